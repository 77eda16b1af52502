"""Appearance side of TCAN: reference attention (recorded reference tokens as extra self-attention K/V)."""

from .reference import ReferenceBank, extend_self_attention_context

__all__ = ["ReferenceBank", "extend_self_attention_context"]
