"""Temporal layers: AnimateDiff motion modules, TCAN's pose-driven temperature map, frame GroupNorm."""

from .checkpoint import load_motion_modules, motion_module_names
from .group_norm import GROUPNORM_MODES, cross_frame_group_norm, cross_frame_norm_for
from .motion_module import MotionModule
from .temperature import temperature_map

__all__ = ["load_motion_modules", "motion_module_names", "MotionModule", "temperature_map",
           "cross_frame_group_norm", "cross_frame_norm_for", "GROUPNORM_MODES"]
