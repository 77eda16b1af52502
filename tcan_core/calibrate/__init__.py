"""TPC (NeurIPS 2024) Procrustes calibration: the reference image warped onto each driving pose.

    from tcan_core.calibrate import procrustes, calibrate
    s, R, t = procrustes(src, dst)       # dst ≈ s * src @ R.T + t, R a proper rotation
    cal = calibrate(reference_image, reference_pose, driving_pose)   # -> Calibration
    cal.warp_image(i, width, height)     # the calibrated reference of frame i, on demand
    members, source = cal.groups.draw(rng)   # Iterative Propagation, once per denoising step

Pure: numpy and cv2 only (no comfy import).
"""

from .calibration import Calibration
from .procrustes import procrustes, procrustes_batch, similarity_matrix
from .propagation import DEFAULT_GROUPS, PropagationGroups
from .sequence import calibrate
from .silhouette import pose_silhouette
from .subset import PARTS, TPC_KEYPOINTS, best_subset, candidate_subsets, common_keypoints

__all__ = [
           "DEFAULT_GROUPS",
           "PARTS",
           "TPC_KEYPOINTS",
           "Calibration",
           "PropagationGroups",
           "best_subset",
           "calibrate",
           "candidate_subsets",
           "common_keypoints",
           "pose_silhouette",
           "procrustes",
           "procrustes_batch",
           "similarity_matrix",
]
