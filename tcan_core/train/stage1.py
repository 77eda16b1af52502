"""Stage 1 (image level, tcan.md 16.3-16.6): a source and a target frame of one video.

The appearance UNet reads the clean source latent (posterior mean) at the target's timestep; its
norm1 outputs at the 10 mid/up sites become extra self-attention K/V of the denoising UNet; the
frozen OpenPose ControlNet reads the noisy target latent and the target's pose (the real inputs,
not tcan.md B6's ones). Trainable: the APPA LoRA (rank 16 on attn1/attn2 Q/K/V of the 16 transformer
blocks) and the appearance UNet, except its tail that reference attention never uses. 10% of the
samples drop the reference (CFG's unconditional branch).
"""

from . import noise
from .lora import attach_lora, load_lora
from .reference import is_unused_by_reference
from .stage import Stage


class Stage1(Stage):
    name = "stage1"

    def __init__(self, unet, appearance, controlnet, text_embedding, *, lora_rank=16, lora_alpha=None,
                 lora_generator=None, lora_up_std=0.0, lora=None):
        super().__init__(unet, appearance, controlnet, text_embedding)
        attach_lora(unet, lora_rank, lora_alpha, generator=lora_generator, up_std=lora_up_std)
        if lora:  # continue from a [UNet] file's LoRA
            load_lora(unet, lora)
        for name, p in unet.named_parameters():
            p.requires_grad_(".lora_A." in name or ".lora_B." in name)
        for name, p in appearance.named_parameters():
            p.requires_grad_(not is_unused_by_reference(name))

    def draws(self, seed, step, batch):
        return noise.draws(seed, step, batch["index"], batch["target_mean"].shape[1:], drop=noise.REFERENCE_DROP)

    def forward(self, batch, draws):
        device = batch["target_mean"].device
        d = {k: v.to(device) for k, v in draws.items()}
        x0 = batch["target_mean"] + batch["target_std"] * d["latent_noise"]  # a VAE posterior sample
        x_t = self.noisy(x0, d["noise"], d["t"])
        prediction = self.run(x_t, d["t"], self.context(x0.shape[0]), batch["pose"], batch["reference"],
                              d["keep"], frames=1)
        return self.loss(prediction, d["noise"])
