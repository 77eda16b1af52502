"""Pose toolkit: POSE_KEYPOINT conversion, TCAN retargeting, OpenPose rendering, JSON files."""

from .render import render
from .retarget import RetargetResult, retarget, retarget_frames

__all__ = ["render", "retarget", "retarget_frames", "RetargetResult"]
