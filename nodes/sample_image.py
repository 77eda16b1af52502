"""Load Sample Image: the pack's bundled reference picture, so the bundled workflows run as shipped."""

import os

import numpy as np
import torch
from comfy_api.latest import io

from ..tcan_core.samples import SAMPLE_DIR


def _options():
    return sorted(name for name in os.listdir(SAMPLE_DIR) if name.lower().endswith((".png", ".jpg", ".jpeg")))


class LoadSampleImage(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANLoadSampleImage",
            display_name="Load Sample Image (TCAN)",
            category="TCAN/samples",
            description="A picture bundled with the pack (the sample reference person). For your own image use the "
                        "stock Load Image node.",
            inputs=[io.Combo.Input("image", options=_options(),
                                   tooltip="A picture bundled with the pack: reference.png is the synthetic sample "
                                           "person whose pose is (TCAN sample) reference_pose.json.")],
            outputs=[io.Image.Output()],
        )

    @classmethod
    def execute(cls, image) -> io.NodeOutput:
        import cv2

        path = os.path.join(SAMPLE_DIR, image)
        pixels = cv2.imread(path, cv2.IMREAD_COLOR)
        if pixels is None:
            raise ValueError(f"cannot read the sample image {path}; reinstall the pack (the picture ships in "
                             "tcan_core/samples) or use Load Image with your own picture")
        rgb = np.ascontiguousarray(pixels[..., ::-1]).astype(np.float32) / 255.0
        return io.NodeOutput(torch.from_numpy(rgb)[None])
