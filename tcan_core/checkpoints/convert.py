"""Command line: convert TCAN's official checkpoint files into the pack's single safetensors file.

    python -m tcan_core.checkpoints.convert --unet "[UNet]_….ckpt" --appearance "[AppearanceEncoder]_….ckpt" \
        --controlnet "[ControlNetT]_….ckpt" --out ComfyUI/models/tcan/tcan.safetensors [--dtype fp16]

Converting once saves every later load the pickle parsing and renaming, and fp16 halves the size.
"""

import argparse
import sys

import torch

from .files import load_tcan_files
from .pack import write_pack

DTYPES = {"keep": None, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def summary(weights):
    """One line per part, for the user to check what the files held."""
    lines = []
    if weights.unet_base:
        lines.append(f"unet: {len(weights.unet_base)} base weights, {len(weights.lora)} LoRA targets, "
                     f"{len({k.split('.temporal_transformer.')[0] for k in weights.motion_module_state})} "
                     f"motion modules  ({weights.sources.get('unet')})")
    if weights.appearance_unet:
        lines.append(f"appearance: {len(weights.appearance_unet)} weights, {len(weights.appearance_missing)} "
                     f"omitted by design  ({weights.sources.get('appearance')})")
    if weights.controlnet:
        modules = {k.split('.temporal_transformer.')[0] for k in weights.controlnet_motion_state}
        lines.append(f"controlnet: {len(weights.controlnet)} weights, {len(modules)} motion modules  "
                     f"({weights.sources.get('controlnet')})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tcan_core.checkpoints.convert", description=__doc__.split("\n")[0])
    parser.add_argument("--unet", help="[UNet]_….ckpt (base + APPA LoRA, stage 2 also motion modules)")
    parser.add_argument("--appearance", help="[AppearanceEncoder]_….ckpt")
    parser.add_argument("--controlnet", help="[ControlNetT]_….ckpt (or a diffusers ControlNet)")
    parser.add_argument("--out", required=True, help="output .safetensors file")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="keep", help="cast floating weights (default: keep)")
    parser.add_argument("--lora-alpha", type=float, default=None, help="LoRA alpha (default: the rank, as TCAN trains)")
    args = parser.parse_args(argv)
    if not (args.unet or args.appearance or args.controlnet):
        parser.error("give at least one of --unet, --appearance, --controlnet")
    if not args.out.endswith(".safetensors"):
        parser.error("--out must end with .safetensors")
    try:
        weights = load_tcan_files(unet=args.unet, appearance=args.appearance, controlnet=args.controlnet,
                                  lora_alpha=args.lora_alpha)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_pack(weights, args.out, dtype=DTYPES[args.dtype])
    print(summary(weights))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
