"""Reference attention: K/V extension against direct attention computations."""

import pytest
import torch
import torch.nn.functional as F

from tcan_core.appearance import ReferenceBank, extend_self_attention_context


def attention(q_in, kv_in, wq, wk, wv, heads=4):
    q, k, v = q_in @ wq, kv_in @ wk, kv_in @ wv
    b, lq, c = q.shape
    split = lambda t: t.reshape(b, -1, heads, c // heads).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(b, lq, c)


@pytest.fixture
def weights():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(32, 32, generator=g) / 6 for _ in range(3)]


def test_rows_without_reference_equal_plain_self_attention(weights):
    n = torch.randn(4, 10, 32)
    reference = torch.randn(2, 10, 32)
    context = extend_self_attention_context(n, reference, torch.tensor([False] * 4))
    torch.testing.assert_close(attention(n, context, *weights), attention(n, n, *weights), atol=1e-5, rtol=1e-5)


def test_rows_with_reference_attend_over_own_and_reference_tokens(weights):
    n = torch.randn(3, 10, 32)
    reference = torch.randn(1, 10, 32)
    with_ref = torch.tensor([True, False, True])
    context = extend_self_attention_context(n, reference, with_ref)
    got = attention(n, context, *weights)
    for row in range(3):
        kv = torch.cat([n[row], reference[0]]) if with_ref[row] else n[row]
        expected = attention(n[row:row + 1], kv[None], *weights)
        torch.testing.assert_close(got[row:row + 1], expected, atol=1e-5, rtol=1e-5)


def test_reference_equal_to_the_frame_matches_a_direct_computation(weights):
    frame = torch.randn(1, 10, 32)
    context = extend_self_attention_context(frame, frame[0][None], torch.tensor([True]))
    # every key appears twice, so the result is plain self-attention of the frame
    torch.testing.assert_close(attention(frame, context, *weights), attention(frame, frame, *weights),
                               atol=1e-5, rtol=1e-5)


def test_per_row_references_and_shape_errors():
    n = torch.randn(2, 6, 8)
    per_row = torch.randn(2, 3, 6, 8)  # e.g. reference + 2 calibrated images, different per frame
    context = extend_self_attention_context(n, per_row, torch.tensor([True, True]))
    assert context.shape == (2, 6 + 18, 8)
    torch.testing.assert_close(context[1, 6:12], per_row[1, 0])
    with pytest.raises(ValueError, match="latent size"):
        extend_self_attention_context(n, torch.randn(1, 5, 8), torch.tensor([True, True]))


def test_bank_records_per_site_and_clears_per_step():
    bank = ReferenceBank()
    bank.clear(step=3.0)
    bank.record(("output", 3, 0), torch.ones(1, 4, 8))
    assert bank.get(("output", 3, 0)).shape == (1, 4, 8) and bank.get(("middle", 0, 0)) is None
    bank.clear(step=2.0)
    assert bank.get(("output", 3, 0)) is None and bank.step == 2.0
