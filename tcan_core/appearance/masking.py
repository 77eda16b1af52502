"""The public TPC code's attention masks for reference and calibrated tokens (an option; the paper
concatenates without masks).

In the public code's reader the K/V of a frame's self-attention are [own tokens, reference tokens,
the frame's calibrated tokens], with an additive mask (-10000 where not allowed):
  - own tokens: every query;
  - calibrated tokens: only queries inside the driving person, and only keys inside the warped
    (calibrated) reference person mask;
  - reference tokens: only background queries, and only background keys of the reference.
Masks are average-pooled to the layer's token grid; a token is "inside" when its pooled value
exceeds 0.001 (almost any overlap).

A dense [queries, keys] mask is ~3 GB per window at 512x512, but the rule is separable: a person
query may attend to [own, calibrated person keys], a background query to [own, reference background
keys]. So two attentions with key-only masks ([B, 1, 1, Lk], which every ComfyUI attention backend
broadcasts) give exactly the masked result when each query takes the one for its side.
"""

import torch
import torch.nn.functional as F

INSIDE = 0.001      # pooled mask value above which a token counts as inside (public code: 255 * 0.001 of 255)
BLOCKED = -10000.0  # additive mask value of a disallowed key (public code)


def token_masks(fractions, grid):
    """[n, h, w] mask values in 0..1 (any resolution) -> bool [n, th * tw] on the token grid (th, tw)."""
    pooled = F.adaptive_avg_pool2d(fractions[:, None].float(), tuple(grid))
    return (pooled > INSIDE).flatten(1)


def extra_key_permissions(person_tokens, calibrated):
    """Which extra (reference/calibrated) keys each side's queries may attend to.

    person_tokens: bool [B, S, L], per row and extra image, the tokens inside that image's person
    mask; calibrated: bool [B, S], whether the image is a calibrated one (else the reference).
    -> (person_query_keys, background_query_keys), bool [B, S * L] each, in the K/V order."""
    calibrated = calibrated[..., None]
    person_query = person_tokens & calibrated
    background_query = ~person_tokens & ~calibrated
    return person_query.flatten(1), background_query.flatten(1)


def screened_key_permissions(person_tokens, calibrated):
    """Without the driving masks: every query may attend to all reference tokens and to the calibrated
    tokens inside the calibrated person (TPC screens the calibrated images' background out).

    person_tokens: bool [B, S, L]; calibrated: bool [B, S] -> bool [B, S * L] in the K/V order."""
    return (~calibrated[..., None] | person_tokens).flatten(1)


def masked_reference_attention(q, k, v, heads, person_queries, person_query_keys, background_query_keys, attention):
    """Self-attention over [own tokens, extra tokens] with the public TPC code's masks.

    q: [B, Lq, C]; k, v: [B, Lq + E, C], own tokens first; person_queries: bool [B, Lq] (queries inside
    the driving person); person_query_keys / background_query_keys: bool [B, E], the extra keys each
    side may attend to (own keys always). attention(q, k, v, heads, mask) -> [B, Lq, C], with an
    additive mask [B, 1, 1, Lk] (ComfyUI's optimized_attention)."""
    own = q.shape[1]
    if k.shape[1] - own != person_query_keys.shape[1]:
        raise ValueError(f"{k.shape[1] - own} extra keys but masks for {person_query_keys.shape[1]}")

    def attend(allowed):
        mask = torch.zeros(q.shape[0], 1, 1, k.shape[1], dtype=q.dtype, device=q.device)
        mask[:, 0, 0, own:] = torch.where(allowed.to(q.device), 0.0, BLOCKED).to(q.dtype)
        return attention(q, k, v, heads, mask)

    person = person_queries.to(q.device)
    if bool(person.all()):
        return attend(person_query_keys)
    if not bool(person.any()):
        return attend(background_query_keys)
    return torch.where(person[..., None], attend(person_query_keys), attend(background_query_keys))
