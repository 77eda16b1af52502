"""The public TPC code's attention masks (tcan_core.appearance.masking) against a dense-mask oracle."""

import numpy as np
import pytest
import torch

from tcan_core.appearance.masking import (
    BLOCKED,
    extra_key_permissions,
    masked_reference_attention,
    screened_key_permissions,
    token_masks,
)


def sdpa(q, k, v, heads, mask):
    """What ComfyUI's attention backends compute: [B, L, C] with heads, an additive mask broadcast."""
    b, lq, c = q.shape
    split = [t.reshape(b, t.shape[1], heads, c // heads).transpose(1, 2) for t in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*split, attn_mask=mask)
    return out.transpose(1, 2).reshape(b, lq, c)


def dense_oracle(q, k, v, heads, person_queries, person_tokens, calibrated):
    """The public code's formulation: one [B, Lq, Lk] additive mask, explicit softmax per head."""
    b, lq, c = q.shape
    images = person_tokens.shape[1]
    mask = torch.zeros(b, lq, lq * (1 + images))
    for row in range(b):
        for s in range(images):
            keys = slice(lq * (1 + s), lq * (2 + s))
            if calibrated[row, s]:  # calibrated: person queries x calibrated person keys
                allowed = person_queries[row][:, None] & person_tokens[row, s][None, :]
            else:  # reference: background queries x reference background keys
                allowed = ~person_queries[row][:, None] & ~person_tokens[row, s][None, :]
            mask[row, :, keys] = torch.where(allowed, 0.0, BLOCKED)
    d = c // heads
    out = torch.zeros_like(q)
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[..., cols] @ k[..., cols].transpose(1, 2) / d ** 0.5 + mask, dim=-1)
        out[..., cols] = weights @ v[..., cols]
    return out


@pytest.mark.parametrize("queries", ["mixed", "all person", "all background"])
def test_two_key_masked_attentions_equal_the_dense_public_code_mask(queries):
    gen = torch.Generator().manual_seed(0)
    b, lq, c, heads, images = 3, 12, 16, 2, 2
    q, k, v = (torch.randn(b, n, c, generator=gen) for n in (lq, lq * (1 + images), lq * (1 + images)))
    person_queries = torch.rand(b, lq, generator=gen) > 0.5
    if queries != "mixed":
        person_queries[:] = queries == "all person"
    person_tokens = torch.rand(b, images, lq, generator=gen) > 0.4
    calibrated = torch.tensor([[False, True]] * b)
    person_keys, background_keys = extra_key_permissions(person_tokens, calibrated)
    out = masked_reference_attention(q, k, v, heads, person_queries, person_keys, background_keys, sdpa)
    expected = dense_oracle(q, k, v, heads, person_queries, person_tokens, calibrated)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # and the masks matter: unmasked attention differs
    assert not torch.allclose(out, sdpa(q, k, v, heads, None), atol=1e-3)


def test_all_keys_allowed_is_plain_attention_over_everything():
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, n, 8, generator=gen) for n in (4, 12, 12))
    everything = torch.ones(2, 8, dtype=torch.bool)
    out = masked_reference_attention(q, k, v, 2, torch.rand(2, 4, generator=gen) > 0.5, everything, everything, sdpa)
    torch.testing.assert_close(out, sdpa(q, k, v, 2, None))


def test_token_masks_pool_like_the_public_code():
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 64, 48), np.float32)
    mask[0, 10:30, 5:20] = 1.0
    mask[1, 0, 0] = 0.5  # one half-on pixel of a 64-pixel cell: 0.0078 > 0.001, inside
    mask[1, 40, 40] = 0.03  # 0.03 / 64 = 0.00047 < 0.001, outside
    got = token_masks(torch.from_numpy(mask), (8, 6))
    pooled = mask.reshape(2, 8, 8, 6, 8).mean(axis=(2, 4))
    np.testing.assert_array_equal(got.numpy(), (pooled > 0.001).reshape(2, -1))
    assert got[1].sum() == 1 and got[1, 0]
    odd = token_masks(torch.from_numpy(rng.random((1, 60, 44)).astype(np.float32) * 0), (8, 6))  # any size
    assert odd.shape == (1, 48) and not odd.any()


def test_permissions_follow_the_image_roles():
    person = torch.tensor([[[True, False], [True, False]]])  # one row, reference then calibrated image
    person_keys, background_keys = extra_key_permissions(person, torch.tensor([[False, True]]))
    assert person_keys.tolist() == [[False, False, True, False]]      # only calibrated person tokens
    assert background_keys.tolist() == [[False, True, False, False]]  # only reference background tokens


def test_without_driving_masks_calibrated_background_keys_are_simply_absent():
    """Screened mode: every query attends to its own tokens, the whole reference and the calibrated
    person; equal to plain attention over exactly those keys (the calibrated background removed)."""
    gen = torch.Generator().manual_seed(2)
    b, lq, c, heads = 2, 6, 8, 2
    q, k, v = (torch.randn(b, n, c, generator=gen) for n in (lq, 3 * lq, 3 * lq))
    person_tokens = torch.rand(b, 2, lq, generator=gen) > 0.5
    calibrated = torch.tensor([[False, True]] * b)
    keys = screened_key_permissions(person_tokens, calibrated)
    assert keys[:, :lq].all() and torch.equal(keys[:, lq:], person_tokens[:, 1])
    out = masked_reference_attention(q, k, v, heads, torch.ones(b, lq, dtype=torch.bool), keys, keys, sdpa)
    for row in range(b):
        kept = torch.cat([torch.ones(2 * lq, dtype=torch.bool), person_tokens[row, 1]])
        expected = sdpa(q[row:row + 1], k[row:row + 1, kept], v[row:row + 1, kept], heads, None)
        torch.testing.assert_close(out[row:row + 1], expected, atol=1e-5, rtol=1e-5)
