"""What both training stages share: one module holding every network (one DDP wrapper over all
trainable parameters, tcan.md B16), the noising, the loss and the trainable/frozen split."""

import torch
import torch.nn.functional as F
from torch import nn

from . import noise
from .reference import Bank, install_reader, install_writer
from .temporal import Frames


class Stage(nn.Module):
    name = ""
    frames_per_sample = 1

    def __init__(self, unet, appearance, controlnet, text_embedding):
        super().__init__()
        self.unet, self.appearance, self.controlnet = unet, appearance, controlnet
        self.register_buffer("text", text_embedding.float(), persistent=False)
        self.scheduler = noise.scheduler()
        self.bank, self.frames = Bank(), Frames(1)
        install_writer(appearance, self.bank)
        install_reader(unet, self.bank)
        self.requires_grad_(False)

    # -- what trains ---------------------------------------------------------------------------
    def trainable(self):
        """{name: parameter} of this stage's trainable parameters (names relative to this module)."""
        return {name: p for name, p in self.named_parameters() if p.requires_grad}

    def enable_gradient_checkpointing(self):
        for model in (self.unet, self.appearance, self.controlnet):
            model.enable_gradient_checkpointing()

    def cast_frozen(self, dtype):
        """Hold frozen weights in `dtype` (memory); trainable ones stay float32 (master weights)."""
        for p in self.parameters():
            if not p.requires_grad:
                p.data = p.data.to(dtype)

    # -- one step ------------------------------------------------------------------------------
    def latent_shape(self, batch):
        raise NotImplementedError

    def noisy(self, x0, noise_, t):
        return self.scheduler.add_noise(x0, noise_, t.to(x0.device))

    def context(self, rows):
        return self.text.expand(rows, -1, -1)

    @staticmethod
    def loss(prediction, target):
        return F.mse_loss(prediction.float(), target.float())

    def run(self, x_t, t, text, pose, reference, keep, frames):
        """Appearance pass, ControlNet, UNet over rows [B*F] -> predicted noise.

        The reference tokens and the frame count stay set after the forward pass: gradient
        checkpointing recomputes blocks during backward and must see what the forward saw.
        """
        self.bank.clear()
        self.bank.keep = keep
        self.frames.count = frames
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.appearance_trains):
            self.appearance(reference, t[::frames], self.context(reference.shape[0]), return_dict=False)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.controlnet_trains):
            down, mid = self.controlnet(x_t, t, text, controlnet_cond=pose, conditioning_scale=1.0,
                                        return_dict=False)
        return self.unet(x_t, t, text, down_block_additional_residuals=down,
                         mid_block_additional_residual=mid, return_dict=False)[0]

    @property
    def appearance_trains(self):
        return any(p.requires_grad for p in self.appearance.parameters())

    @property
    def controlnet_trains(self):
        return any(p.requires_grad for p in self.controlnet.parameters())
