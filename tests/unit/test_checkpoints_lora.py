"""peft's LoRA layout -> plain weights + deltas, against the layer peft computes: W x + (alpha/r) B(A x)."""

import pytest
import torch

from tcan_core.checkpoints import LoRA, split_peft


def peft_state(out_features=12, in_features=10, rank=3, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "blk.attn1.to_q.base_layer.weight": torch.randn(out_features, in_features, generator=g).to(dtype),
        "blk.attn1.to_q.lora_A.default.weight": torch.randn(rank, in_features, generator=g).to(dtype),
        "blk.attn1.to_q.lora_B.default.weight": torch.randn(out_features, rank, generator=g).to(dtype),
        "blk.attn1.to_out.0.weight": torch.randn(out_features, out_features, generator=g).to(dtype),
    }


@pytest.mark.parametrize("alpha", [None, 1.5])
def test_folded_weight_reproduces_the_peft_layer(alpha):
    state = peft_state()
    plain, loras = split_peft(state, alpha=alpha)
    assert set(plain) == {"blk.attn1.to_q.weight", "blk.attn1.to_out.0.weight"}
    assert plain["blk.attn1.to_q.weight"] is state["blk.attn1.to_q.base_layer.weight"]
    lora = loras["blk.attn1.to_q.weight"]
    assert lora.rank == 3 and lora.alpha == (3.0 if alpha is None else alpha)
    x = torch.randn(5, 10)
    a, b = state["blk.attn1.to_q.lora_A.default.weight"], state["blk.attn1.to_q.lora_B.default.weight"]
    scale = 1.0 if alpha is None else alpha / 3
    peft_output = x @ plain["blk.attn1.to_q.weight"].T + scale * (x @ a.T) @ b.T
    folded = plain["blk.attn1.to_q.weight"] + lora.delta()
    torch.testing.assert_close(x @ folded.T, peft_output)
    torch.testing.assert_close(lora.delta(strength=0.5), 0.5 * lora.delta())


def test_half_precision_delta_is_computed_in_float32():
    lora = LoRA(torch.full((16, 320), 0.01, dtype=torch.float16), torch.full((320, 16), 0.01, dtype=torch.float16), 16)
    delta = lora.delta()
    assert delta.dtype == torch.float16
    torch.testing.assert_close(delta.float(), torch.full((320, 320), 16e-4), atol=1e-6, rtol=1e-3)


def test_unnamed_adapter_keys_are_accepted():
    state = {k.replace(".default.", "."): v for k, v in peft_state().items()}
    _, loras = split_peft(state)
    assert list(loras) == ["blk.attn1.to_q.weight"]


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("blk.attn1.to_q.lora_B.default.weight"), "lora_A without its partner lora_B"),
    (lambda s: s.update({"blk.attn1.to_k.lora_A.other.weight": torch.zeros(3, 10),
                         "blk.attn1.to_k.lora_B.other.weight": torch.zeros(12, 3)}), "several peft adapters"),
    (lambda s: s.update({"blk.attn1.to_q.lora_A.default.weight": torch.zeros(3, 11)}), "do not fit"),
])
def test_malformed_lora_is_a_clear_error(change, message):
    state = peft_state()
    change(state)
    with pytest.raises(ValueError, match=message):
        split_peft(state, source="[UNet]_x.ckpt")
