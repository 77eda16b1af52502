"""Writes the README's pictures in docs/ (small palette PNGs; needs Pillow, which ComfyUI has).

    python scripts/make_docs_images.py [--screenshots DIR]

docs/demo_contact_sheet.png: the contact sheet `python -m tcan_core.demo` writes for the bundled sample.
docs/workflow_tcan_zero_shot.png (with --screenshots): the main workflow as the frontend shows it, from
the screenshots tests/comfy/test_browser.py saves into TCAN_SCREENSHOTS=DIR.
"""

import argparse
import os
import sys
import tempfile

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from build_workflows import TITLES  # noqa: E402

from tcan_core.demo import run  # noqa: E402


def save_small(image, name, width=1600):
    image = image.convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    path = os.path.join(ROOT, "docs", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    print("wrote", os.path.relpath(path, ROOT), f"({os.path.getsize(path) // 1024} KiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshots", help="the TCAN_SCREENSHOTS folder of a browser test run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        paths = run(out, log=lambda *a: None)
        save_small(Image.open(paths["contact_sheet"]), "demo_contact_sheet.png")
    if args.screenshots:
        whole = os.path.join(args.screenshots, TITLES["tcan_zero_shot"] + " (whole).png")
        save_small(Image.open(whole), "workflow_tcan_zero_shot.png")


if __name__ == "__main__":
    main()
