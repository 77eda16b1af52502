"""Temporal layers: AnimateDiff motion modules, TCAN's pose-driven temperature map, frame GroupNorm."""

from .checkpoint import load_motion_modules, motion_module_names
from .group_norm import cross_frame_group_norm
from .motion_module import MotionModule
from .temperature import temperature_map

__all__ = ["load_motion_modules", "motion_module_names", "MotionModule", "temperature_map",
           "cross_frame_group_norm"]
