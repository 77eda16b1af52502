"""TCAN's APPA LoRA as peft lays it out, without peft (tcan.md 4).

Each target linear X (to_q/to_k/to_v of attn1 and attn2 in the 16 transformer blocks) becomes a
module whose state dict holds `X.base_layer.weight` (frozen), `X.lora_A.default.weight` [r, in] and
`X.lora_B.default.weight` [out, r]: the keys of TCAN's [UNet] file, which the pack's loader reads.
Output = W x + (alpha / r) B A x; TCAN trains r = alpha = 16 (scale 1).
"""

import re

import torch
from torch import nn

RANK = 16
ADAPTER = "default"
# attn1/attn2 Q/K/V of the spatial transformer blocks; motion modules' `attention_blocks` never match
TARGET = re.compile(r"(^|\.)attentions\.\d+\.transformer_blocks\.\d+\.attn[12]\.to_[qkv]$")


class LoRALinear(nn.Module):
    def __init__(self, base, rank=RANK, alpha=None):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.ModuleDict({ADAPTER: nn.Linear(base.in_features, rank, bias=False)})
        self.lora_B = nn.ModuleDict({ADAPTER: nn.Linear(rank, base.out_features, bias=False)})
        self.scaling = (rank if alpha is None else alpha) / rank
        self.in_features, self.out_features = base.in_features, base.out_features
        self.to(device=base.weight.device, dtype=base.weight.dtype)

    @property
    def weight(self):  # code that inspects `to_q.weight` (dtype, device) sees the base weight
        return self.base_layer.weight

    @property
    def bias(self):
        return self.base_layer.bias

    def forward(self, x):
        down, up = self.lora_A[ADAPTER], self.lora_B[ADAPTER]
        return self.base_layer(x) + up(down(x.to(down.weight.dtype))).to(x.dtype) * self.scaling


def lora_targets(model):
    """Names of the linears the APPA LoRA wraps (96 in an SD1.5 UNet)."""
    return [name for name, module in model.named_modules() if TARGET.search(name) and isinstance(module, nn.Linear)]


def attach_lora(model, rank=RANK, alpha=None, *, generator=None, up_std=0.0):
    """Wrap every target linear of `model` in place; -> the LoRALinear modules by name.

    Initialisation as peft's "gaussian" (TCAN): A ~ N(0, 1/r^2), B = 0, so the model is unchanged
    at step 0. `up_std` > 0 draws B too (tests that need a LoRA that changes the output).
    """
    wrapped = {}
    for name in lora_targets(model):
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        layer = LoRALinear(getattr(parent, attr), rank, alpha)
        with torch.no_grad():
            down, up = layer.lora_A[ADAPTER].weight, layer.lora_B[ADAPTER].weight
            down.copy_(torch.randn(down.shape, generator=generator) / rank)
            up.copy_(torch.randn(up.shape, generator=generator) * up_std)
        setattr(parent, attr, layer)
        wrapped[name] = layer
    if not wrapped:
        raise ValueError("no attn1/attn2 to_q/to_k/to_v linears found for the APPA LoRA; is this an SD1.5 UNet?")
    return wrapped


def load_lora(model, state, source="the [UNet] file"):
    """Copy peft factor weights (`….lora_A.default.weight`, …) into a model with the LoRA attached."""
    _, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"{source}: {len(unexpected)} LoRA weights fit no target of this UNet "
                         f"(e.g. {unexpected[:3]})")

