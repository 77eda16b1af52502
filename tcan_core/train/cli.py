"""Command line: `tcan-train prepare | stage1 | stage2 | memory` (also `python -m tcan_core.train`).

    tcan-train prepare --data videos/ --cache cache/ --base sd15/            # check + encode once
    tcan-train stage1 --cache cache/ --out runs/stage1 --base rv51.safetensors \
        --controlnet control_v11p_sd15_openpose.pth
    tcan-train stage2 --cache cache/ --out runs/stage2 --unet "runs/stage1/checkpoint-N/[UNet]_….ckpt" \
        --appearance "runs/stage1/checkpoint-N/[AppearanceEncoder]_….ckpt" \
        --controlnet control_v11p_sd15_openpose.pth --motion-module mm_sd_v15_v2.ckpt
    accelerate launch -m tcan_core.train stage1 …                              # several GPUs / machines
"""

import argparse
import os
import sys

from .data import DatasetError


def _size(text):
    parts = text.lower().split("x")
    try:
        w, h = (int(parts[0]), int(parts[-1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}") from None
    return w, h


def _training_arguments(p, stage):
    from .trainer import Options

    d = Options(out="")
    p.add_argument("--cache", required=True, help="prepared dataset folder (tcan-train prepare)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, loss.csv, tb/")
    p.add_argument("--controlnet", required=True, help="OpenPose ControlNet: control_v11p_sd15_openpose.pth, its "
                   "diffusers folder, or a [ControlNetT] file")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=int, default=d.steps, help="optimisation steps in all (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=2 if stage == 1 else 1,
                   help="items per process per micro-step (TCAN: 2 pairs / 1 clip)")
    g.add_argument("--gradient-accumulation", type=int, default=d.gradient_accumulation)
    g.add_argument("--learning-rate", type=float, default=d.learning_rate)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--adam-epsilon", type=float, default=d.adam_epsilon)
    g.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm, help="0 = no clipping")
    g.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), default=d.mixed_precision)
    g.add_argument("--gradient-checkpointing", action="store_true")
    g.add_argument("--frozen-dtype", choices=("fp32", "bf16", "fp16"), default=d.frozen_dtype,
                   help="storage of frozen weights (saved files then hold them rounded)")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--num-workers", type=int, default=d.num_workers, help="data loader processes")
    g.add_argument("--no-hands", action="store_true", help="render poses without hands (TCAN trains with them)")
    g = p.add_argument_group("checkpoints and logs")
    g.add_argument("--save-every", type=int, default=d.save_every)
    g.add_argument("--keep-last", type=int, default=d.keep_last, help="checkpoints kept (0 = all)")
    g.add_argument("--pack", choices=("final", "every", "never"), default=d.pack,
                   help="when to also write the single-file tcan.safetensors")
    g.add_argument("--resume", help="a checkpoint folder, or 'latest' under --out")
    g.add_argument("--validate-every", type=int, default=d.validate_every)
    g.add_argument("--validation-items", type=int, default=d.validation_items)
    g.add_argument("--log-every", type=int, default=d.log_every)
    g.add_argument("--no-progress", action="store_true")


def parser():
    p = argparse.ArgumentParser(prog="tcan-train", description="Train TCAN (ECCV 2024) on your own videos.")
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("prepare", help="check videos against their poses and cache VAE latents")
    q.add_argument("--data", required=True, help="folder of videos (.mp4 or frame folders) with <name>.json poses")
    q.add_argument("--cache", required=True, help="output folder")
    q.add_argument("--base", required=True, help="SD1.5 diffusers folder or checkpoint (VAE and text encoder)")
    q.add_argument("--vae", help="a VAE to use instead of the base's (e.g. sd-vae-ft-mse, TCAN's)")
    q.add_argument("--size", type=_size, default=(512, 512), help="training size, N or WxH (default 512)")
    q.add_argument("--val-videos", type=int, default=None, help="videos held out for validation (default 1 if >= 3)")
    q.add_argument("--batch", type=int, default=8, help="frames per VAE call")
    q.add_argument("--device", default=None, help="default: cuda if available")
    s1 = sub.add_parser("stage1", help="APPA LoRA + appearance UNet on frame pairs")
    s1.add_argument("--base", required=True, help="denoising UNet base: SD1.5/Realistic Vision checkpoint or diffusers "
                    "folder (or a [UNet] file to continue from)")
    s1.add_argument("--appearance-init", help="appearance UNet's initial weights (default: --base)")
    s1.add_argument("--lora-rank", type=int, default=16)
    _training_arguments(s1, 1)
    s2 = sub.add_parser("stage2", help="motion modules of the UNet and the ControlNet on 16-frame clips")
    s2.add_argument("--unet", required=True, help="stage 1's [UNet] file (base + APPA LoRA)")
    s2.add_argument("--appearance", required=True, help="stage 1's [AppearanceEncoder] file")
    s2.add_argument("--motion-module", required=True,
                    help="AnimateDiff SD1.5 file (mm_sd_v15_v2.ckpt or mm_sd_v15.ckpt)")
    s2.add_argument("--frames", type=int, default=16, help="frames per clip (TCAN: 16)")
    _training_arguments(s2, 2)
    m = sub.add_parser("memory", help="print the memory estimate per GPU for 512x512, batch 1, from SD1.5 sizes")
    m.add_argument("--size", type=_size, default=(512, 512))
    return p


def _options(args):
    from .trainer import Options

    return Options(out=args.out, steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                   weight_decay=args.weight_decay, adam_epsilon=args.adam_epsilon,
                   gradient_accumulation=args.gradient_accumulation,
                   max_grad_norm=args.max_grad_norm, mixed_precision=args.mixed_precision,
                   gradient_checkpointing=args.gradient_checkpointing, frozen_dtype=args.frozen_dtype,
                   save_every=args.save_every, keep_last=args.keep_last, validate_every=args.validate_every,
                   validation_items=args.validation_items, log_every=args.log_every, seed=args.seed,
                   num_workers=args.num_workers, resume=args.resume, pack=args.pack, progress=not args.no_progress)


def _check_text(text, unet, cache):
    width = unet.config.cross_attention_dim
    if text.shape[-1] != width:
        raise DatasetError(f"{cache} was prepared with a {text.shape[-1]}-wide text encoder; the UNet expects {width} "
                           "(prepare with the same SD1.5 base)")


def run_prepare(args, log=print):
    import torch

    from .models import empty_prompt_embedding, load_text_encoder, load_vae
    from .prepare import prepare

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    vae = load_vae(args.vae or args.base)
    text = empty_prompt_embedding(load_text_encoder(args.base).to(device))
    return prepare(args.data, args.cache, vae, text, size=args.size, val_videos=args.val_videos, batch=args.batch,
                   device=device, dtype=torch.float16 if device.startswith("cuda") else torch.float32, log=log)


def build_stage1(args):
    from .data import PairDataset
    from .models import load_controlnet, load_unet
    from .stage1 import Stage1

    train_set = PairDataset(args.cache, "train", seed=args.seed, hands=not args.no_hands)
    val_set = PairDataset(args.cache, "val", seed=args.seed, hands=not args.no_hands)
    base = load_unet(args.base, "UNet base")
    appearance = load_unet(args.appearance_init or args.base, "appearance UNet").model
    controlnet, _ = load_controlnet(args.controlnet)
    text = train_set.text_embedding()
    _check_text(text, base.model, args.cache)
    stage = Stage1(base.model, appearance, controlnet, text, lora_rank=args.lora_rank, lora=base.lora)
    return stage, train_set, val_set, {}


def build_stage2(args):
    from ..checkpoints import read_state_dict
    from .checkpoints import appearance_state
    from .data import ClipDataset
    from .models import ModelFileError, load_controlnet, load_unet
    from .stage2 import Stage2

    train_set = ClipDataset(args.cache, "train", frames=args.frames, seed=args.seed, hands=not args.no_hands)
    val_set = ClipDataset(args.cache, "val", frames=args.frames, seed=args.seed, hands=not args.no_hands)
    unet = load_unet(args.unet, "stage-1 UNet")
    appearance = load_unet(args.appearance, "stage-1 appearance encoder").model
    controlnet, controlnet_motion = load_controlnet(args.controlnet)
    if not os.path.isfile(args.motion_module):
        raise ModelFileError(f"motion module not found: {args.motion_module} (an AnimateDiff SD1.5 file)")
    motion, _, name = read_state_dict(args.motion_module)
    text = train_set.text_embedding()
    _check_text(text, unet.model, args.cache)
    rank = next((v.shape[0] for k, v in unet.lora.items() if ".lora_A." in k), 16)
    stage = Stage2(unet.model, appearance, controlnet, text, motion, lora=unet.lora, lora_rank=rank,
                   unet_motion_state=unet.motion or None, controlnet_motion_state=controlnet_motion or None,
                   source=name)
    return stage, train_set, val_set, {"appearance": appearance_state(appearance)}


def run_training(args, log=print):
    from .trainer import Trainer

    import torch

    torch.manual_seed(args.seed)  # the LoRA's initial A: the same in every process and every run
    build = build_stage1 if args.command == "stage1" else build_stage2
    stage, train_set, val_set, extra = build(args)
    if train_set.skipped:
        log(f"skipped for {args.command}: {', '.join(train_set.skipped)} (too few frames or no person)")
    trainer = Trainer(stage, train_set, val_set if len(val_set) else None, _options(args), extra_parts=extra, log=log)
    summary = trainer.train()
    if trainer.accelerator.is_main_process:
        log(f"{args.command}: {summary['steps']} steps, loss {summary['loss']:.4f}, "
            f"{summary['steps_per_s']:.3f} steps/s, peak memory {summary['peak_memory_bytes'] / 2**30:.2f} GiB "
            f"-> {summary['out']}")
    return summary


def main(argv=None):
    from .models import ModelFileError
    from .trainer import TrainingError, interrupted_exit_code

    args = parser().parse_args(argv)
    try:
        if args.command == "prepare":
            run_prepare(args)
        elif args.command == "memory":
            from .memory import print_table

            print_table(args.size)
        else:
            run_training(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return interrupted_exit_code()
    except (ModelFileError, DatasetError, TrainingError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
