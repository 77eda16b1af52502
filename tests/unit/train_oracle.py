"""Independent computations of a training step for the trainer's tests, from diffusers parts.

Written from tcan.md (5, 6, 10, 16.5) without the trainer's code: reference tokens are read with
forward hooks on the appearance UNet's norm1 layers, reference attention is a hand-written
attention over [own, reference] tokens, cross-frame GroupNorm is a 5-D group_norm, and motion
modules run from hooks placed by the table of tcan.md 6 / 7.
"""

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler

SITES = ["mid_block.attentions.0.transformer_blocks.0"] + [
    f"up_blocks.{i}.attentions.{j}.transformer_blocks.0" for i in (1, 2, 3) for j in range(3)]


def noisy(x0, noise, t):
    s = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="linear")
    return s.add_noise(x0, noise, t)


def record_norm1(appearance, reference, t, text):
    tokens, hooks = {}, []
    for site in SITES:
        block = appearance.get_submodule(site)
        hooks.append(block.norm1.register_forward_hook(lambda m, a, out, site=site: tokens.__setitem__(site, out)))
    with torch.no_grad():
        appearance(reference, t, text)
    for h in hooks:
        h.remove()
    return tokens


class HandAttention:
    """attn1 with K/V over [own tokens, reference tokens] for rows whose clip keeps the reference."""

    def __init__(self, reference, keep_rows):
        self.reference, self.keep_rows = reference, keep_rows  # [R, L, C], [rows] -> ref index or -1

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        out = []
        for row, h in enumerate(hidden_states):
            r = self.keep_rows[row]
            kv = h if r < 0 else torch.cat([h, self.reference[r]], 0)
            q, k, v = attn.to_q(h), attn.to_k(kv), attn.to_v(kv)
            heads = attn.heads
            q, k, v = (x.reshape(x.shape[0], heads, -1).transpose(0, 1) for x in (q, k, v))
            w = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, -1)
            out.append((w @ v).transpose(0, 1).reshape(h.shape[0], -1))
        return attn.to_out[1](attn.to_out[0](torch.stack(out)))


def use_hand_reference(unet, tokens, keep_rows):
    for site in SITES:
        unet.get_submodule(site).attn1.set_processor(HandAttention(tokens[site], keep_rows))


def use_5d_group_norm(model, frames):
    """Res-block GroupNorm over [B, C, F, h, w] (TCAN's 3D res blocks), via a forward replacement."""
    def forward(self, x):
        b = x.shape[0] // frames
        y = x.reshape(b, frames, *x.shape[1:]).transpose(1, 2)  # [B, C, F, h, w]
        y = F.group_norm(y, self.num_groups, self.weight, self.bias, self.eps)
        return y.transpose(1, 2).reshape(x.shape)

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.GroupNorm) and (".resnets." in name or name == "conv_norm_out") \
                and name.rsplit(".", 1)[-1] in ("norm1", "norm2", "conv_norm_out"):
            module.forward = forward.__get__(module)


def place_motion_modules(model, modules, frames, controlnet=False):
    """tcan.md 6: down_blocks.i.motion_modules.j after the block's j-th attention (down 3: resnet);
    up_blocks.i.motion_modules.j after the j-th attention (up 0: resnet). tcan.md 7: the ControlNet
    has only down blocks 2 and 3."""
    table = [(i, j, "down_blocks") for i in range(4) for j in range(2)]
    if not controlnet:
        table += [(i, j, "up_blocks") for i in range(4) for j in range(3)]
    else:
        table = [(i, j, b) for i, j, b in table if i in (2, 3)]
    for i, j, blocks in table:
        block = model.get_submodule(f"{blocks}.{i}")
        without_attention = (blocks == "down_blocks" and i == 3) or (blocks == "up_blocks" and i == 0)
        anchor = block.resnets[j] if without_attention else block.attentions[j]
        module = modules[f"{blocks}.{i}.motion_modules.{j}"]

        def hook(m, args, out, module=module):
            if isinstance(out, tuple):
                return (module(out[0], frames), *out[1:])
            return module(out, frames)

        anchor.register_forward_hook(hook)


def mse(prediction, noise):
    return ((prediction.float() - noise.float()) ** 2).mean()
