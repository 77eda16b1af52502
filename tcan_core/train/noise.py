"""Noising as TCAN trains (tcan.md 16.5, 16.13), with every random draw keyed by (seed, step, item).

Linear betas 0.00085..0.012 over 1000 steps (diffusers DDPMScheduler, beta_schedule "linear"),
t uniform per sample (shared by a clip's frames), epsilon target. Each sample's t, noise, VAE
latent sample and reference drop come from a generator seeded by the run seed, the optimisation
step and the sample's dataset index. So a sample gets the same draws whichever process, batch
position or accumulation micro-batch it lands in (two processes with one sample each, or two
accumulated micro-batches, equal one batch with both), and a resumed run draws exactly what the
uninterrupted run would have: no RNG state needs saving.
"""

import torch

TRAIN_TIMESTEPS = 1000
REFERENCE_DROP = 0.1


def scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=TRAIN_TIMESTEPS, beta_start=0.00085, beta_end=0.012,
                         beta_schedule="linear", prediction_type="epsilon", clip_sample=False)


def generator(seed, step, index):
    """Generator for one sample at one step; step < 0 is used for validation (fixed draws)."""
    key = (int(seed) * 1_000_003 + int(step)) * 1_000_033 + int(index)
    return torch.Generator().manual_seed(key % (2 ** 63))


def draws(seed, step, indices, latent_shape, drop=0.0):
    """Per-sample draws -> dict of CPU tensors: t [B], noise [B, *latent_shape],
    latent_noise [B, *latent_shape] (for sampling the VAE posterior), keep [B] bool (reference kept)."""
    t, noise, latent_noise, keep = [], [], [], []
    for index in indices:
        g = generator(seed, step, int(index))
        t.append(torch.randint(0, TRAIN_TIMESTEPS, (1,), generator=g))
        noise.append(torch.randn(latent_shape, generator=g))
        latent_noise.append(torch.randn(latent_shape, generator=g))
        keep.append(torch.rand(1, generator=g) >= drop)
    return {"t": torch.cat(t), "noise": torch.stack(noise), "latent_noise": torch.stack(latent_noise),
            "keep": torch.cat(keep)}
