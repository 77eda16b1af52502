"""Temporal layers: AnimateDiff motion modules, TCAN's pose-driven temperature map, frame GroupNorm.

The temperature map and the window schedule need only numpy and cv2 (the demo runs without torch);
the torch modules are imported when first used.
"""

from .temperature import temperature_map

_TORCH_EXPORTS = {"load_motion_modules": "checkpoint", "motion_module_names": "checkpoint",
                  "MotionModule": "motion_module", "cross_frame_group_norm": "group_norm",
                  "cross_frame_norm_for": "group_norm", "GROUPNORM_MODES": "group_norm"}

__all__ = ["load_motion_modules", "motion_module_names", "MotionModule", "temperature_map",
           "cross_frame_group_norm", "cross_frame_norm_for", "GROUPNORM_MODES"]


def __getattr__(name):
    if name in _TORCH_EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_TORCH_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
