"""TCAN's APPA LoRA as saved by peft, and the weight deltas it adds (tcan.md 4, 11.2).

peft wraps each target linear `X` (attn1/attn2 to_q/to_k/to_v of the 16 spatial transformer
blocks) so the file holds `X.base_layer.weight` (the frozen base), `X.lora_A.default.weight`
[r, in] and `X.lora_B.default.weight` [out, r]. The layer computes W x + (alpha / r) B A x, so the
base weight becomes `X.weight` and the LoRA is the delta (alpha / r) * B @ A on it. peft keeps
alpha in its config, not in the state dict; TCAN trains with alpha = r = 16, i.e. scale 1.
"""

import re
from dataclasses import dataclass

import torch

_FACTOR = re.compile(r"^(.+)\.lora_([AB])(?:\.([^.]+))?\.weight$")
_BASE = ".base_layer."


@dataclass(frozen=True, eq=False)
class LoRA:
    """One low-rank update of a linear weight [out, in]: delta = (alpha / rank) * up @ down."""

    down: torch.Tensor  # peft lora_A, [rank, in]
    up: torch.Tensor  # peft lora_B, [out, rank]
    alpha: float

    @property
    def rank(self):
        return int(self.down.shape[0])

    def delta(self, strength=1.0):
        """The weight delta, computed in float32 and returned in the factors' dtype."""
        scale = strength * self.alpha / self.rank
        return (scale * (self.up.float() @ self.down.float())).to(self.up.dtype)


def lora_deltas(loras, strength=1.0):
    """{weight key: LoRA} -> {weight key: delta tensor}, e.g. for ComfyUI ("diff", (delta,)) patches."""
    return {key: lora.delta(strength) for key, lora in loras.items()}


def split_peft(state_dict, *, alpha=None, source="state dict"):
    """Undo peft's wrapping: -> (plain state dict, {"X.weight": LoRA}).

    `X.base_layer.<p>` becomes `X.<p>`; the lora_A/lora_B pair of `X` becomes a LoRA keyed by the
    weight it updates, `X.weight`. `alpha` None means alpha = rank (TCAN's scale 1). Raises
    ValueError for an unpaired factor, several adapters, or factors whose shapes do not fit.
    """
    plain, factors, adapters = {}, {}, set()
    for key, value in state_dict.items():
        match = _FACTOR.match(key)
        if match:
            module, which, adapter = match.groups()
            adapters.add(adapter or "(unnamed)")
            factors.setdefault(module, {})[which] = value
        else:
            plain[key.replace(_BASE, ".", 1)] = value
    if len(adapters) > 1:
        raise ValueError(f"{source} holds several peft adapters ({', '.join(sorted(adapters))}); "
                         "expected TCAN's single adapter 'default'")
    loras = {}
    for module, pair in factors.items():
        if set(pair) != {"A", "B"}:
            raise ValueError(f"{source}: {module} has lora_{''.join(pair)} without its partner "
                             f"lora_{'B' if 'A' in pair else 'A'}")
        down, up = pair["A"], pair["B"]
        base = plain.get(f"{module}.weight")
        if (down.ndim != 2 or up.ndim != 2 or up.shape[1] != down.shape[0]
                or (base is not None and tuple(base.shape) != (up.shape[0], down.shape[1]))):
            raise ValueError(f"{source}: LoRA factors of {module} do not fit: lora_A {tuple(down.shape)}, "
                             f"lora_B {tuple(up.shape)}, weight {None if base is None else tuple(base.shape)}")
        loras[f"{module}.weight"] = LoRA(down, up, float(down.shape[0] if alpha is None else alpha))
    return plain, loras
