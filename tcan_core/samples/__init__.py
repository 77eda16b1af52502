"""Small synthetic sample data bundled with the pack (see README.md in this folder)."""

import os

SAMPLE_DIR = os.path.dirname(os.path.abspath(__file__))
REFERENCE_POSE = os.path.join(SAMPLE_DIR, "reference_pose.json")
DRIVING_POSE = os.path.join(SAMPLE_DIR, "driving_pose.json")
REFERENCE_IMAGE = os.path.join(SAMPLE_DIR, "reference.png")
FPS = 25
