"""The attention kernel the temporal layers call: PyTorch SDPA by default, swappable for ComfyUI's.

Signature shared with ComfyUI's `optimized_attention(q, k, v, heads)`: q, k, v are [B, L, heads * d]
and so is the result. Softmax scale is 1 / sqrt(d).
"""

import torch.nn.functional as F


def sdpa_attention(q, k, v, heads):
    batch, length, inner = q.shape
    d = inner // heads
    q, k, v = (t.reshape(batch, -1, heads, d).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(batch, length, inner)
