"""The TCAN bundle Load TCAN hands to Sample Long Video (socket type TCAN)."""

from dataclasses import dataclass, field


@dataclass
class TCANBundle:
    controlnet: object                # TemporalControlNet (with or without temporal layers)
    ptm_tau: float = 3.0              # 0 = no pose-driven temperature map
    reference_attention: bool = True  # whether the MODEL has reference attention (its options live there)
    mode: str = "zero-shot"           # "zero-shot" or "tcan weights"
    notes: list = field(default_factory=list)
