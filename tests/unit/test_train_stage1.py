"""Stage 1: the loss equals one computed by hand from diffusers parts; the LoRA saved is the one
Load TCAN applies; training moves exactly the LoRA and the appearance UNet and can overfit a batch."""

import copy

import pytest
import torch

from . import tiny_models as tm
from . import train_oracle as oracle
from .train_checks import assert_checkpointing_changes_nothing, overfit_losses, short_run_moves_only_the_trainable

pytest.importorskip("diffusers")
pytest.importorskip("accelerate")


@pytest.fixture(scope="module")
def parts(train_files):
    from tcan_core.train.data import PairDataset, collate

    pairs = PairDataset(train_files["cache"], "train", seed=0)
    batch = collate([pairs[(0, 0)], pairs[(1, 0)]])
    return tm.unet(), tm.unet(5), tm.controlnet(), pairs.text_embedding(), batch


def stage1(parts, **options):
    from tcan_core.train.stage1 import Stage1

    unet, appearance, controlnet, text, _ = parts
    return Stage1(copy.deepcopy(unet), copy.deepcopy(appearance), copy.deepcopy(controlnet), text, **options)


def test_loss_matches_a_hand_computed_step(parts):
    unet, appearance, controlnet, text, batch = parts
    stage = stage1(parts)
    draws = stage.draws(0, 0, batch)
    draws["keep"] = torch.tensor([True, False])  # one sample with the reference, one dropped
    with torch.no_grad():
        loss = stage(batch, draws)
    # by hand: VAE sample, linear-beta noising, ControlNet on the target pose, reference attention
    x0 = batch["target_mean"] + batch["target_std"] * draws["latent_noise"]
    x_t = oracle.noisy(x0, draws["noise"], draws["t"])
    context = text.expand(2, -1, -1)
    tokens = oracle.record_norm1(appearance, batch["reference"], draws["t"], context)
    hand_unet = copy.deepcopy(unet)
    oracle.use_hand_reference(hand_unet, tokens, keep_rows=[0, -1])
    with torch.no_grad():
        down, mid = controlnet(x_t, draws["t"], context, controlnet_cond=batch["pose"], return_dict=False)
        prediction = hand_unet(x_t, draws["t"], context, down_block_additional_residuals=down,
                               mid_block_additional_residual=mid).sample
    expected = oracle.mse(prediction, draws["noise"])
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    # the reference matters: keeping it for the second sample changes the loss
    draws["keep"] = torch.tensor([True, True])
    with torch.no_grad():
        assert not torch.allclose(stage(batch, draws), expected, rtol=1e-4)


def test_saved_lora_is_what_load_tcan_applies(parts, tmp_path):
    from tcan_core.checkpoints import load_tcan_files, unet_name_map
    from tcan_core.train.checkpoints import part_states

    unet, _, _, text, _ = parts
    stage = stage1(parts, lora_generator=torch.Generator().manual_seed(3), lora_up_std=0.05)
    path = tmp_path / "[UNet].ckpt"
    torch.save(part_states(stage)["unet"], path)
    weights = load_tcan_files(unet=path)
    assert len(weights.lora) == 96
    # fold the pack's deltas (W + alpha/r * B A) into a plain UNet: same output as the training UNet
    inverse = {"diffusion_model." + ldm: d for d, ldm in unet_name_map().items()}
    merged = copy.deepcopy(unet)
    with torch.no_grad():
        params = dict(merged.named_parameters())
        for key, delta in weights.lora_deltas().items():
            params[inverse[key]] += delta
    g = torch.Generator().manual_seed(0)
    x, t, context = torch.randn(1, 4, 8, 8, generator=g), torch.tensor([500]), text
    with torch.no_grad():
        torch.testing.assert_close(stage.unet(x, t, context).sample, merged(x, t, context).sample, rtol=1e-4, atol=1e-5)
        assert not torch.allclose(unet(x, t, context).sample, merged(x, t, context).sample, atol=1e-4)


def test_trainable_set_is_the_lora_and_the_used_appearance_unet(parts):
    stage = stage1(parts)
    names = set(stage.trainable())
    lora = {n for n in names if n.startswith("unet.")}
    assert len(lora) == 192 and all(".lora_A.default." in n or ".lora_B.default." in n for n in lora)
    appearance = {n for n in names if n.startswith("appearance.")}
    all_appearance = {"appearance." + n for n, _ in stage.appearance.named_parameters()}
    assert len(all_appearance - appearance) == 24  # tcan.md 11.1: what the official file omits
    assert not any(n.startswith("controlnet.") for n in names)


def test_training_changes_only_the_trainable_weights(parts, train_files, tmp_path):
    from tcan_core.train.data import PairDataset

    short_run_moves_only_the_trainable(stage1(parts), PairDataset(train_files["cache"], "train"), tmp_path, steps=3,
                                       batch_size=2, label="stage 1")


def test_overfits_one_batch(parts):
    stage = stage1(parts)
    draws = stage.draws(0, 7, parts[4])
    draws["keep"][:] = True
    losses = overfit_losses(stage, parts[4], draws, learning_rate=5e-3, steps=40)
    print(f"\noverfitting one batch: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps")
    assert losses[-1] <= 0.5 * losses[0], losses


def test_gradient_checkpointing_gives_the_same_gradients(parts):
    draws = stage1(parts).draws(0, 7, parts[4])
    def make():  # the same LoRA each time, B != 0 so that A gets gradients too
        return stage1(parts, lora_generator=torch.Generator().manual_seed(0), lora_up_std=0.05)

    assert_checkpointing_changes_nothing(make, parts[4], draws)
