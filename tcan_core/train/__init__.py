"""TCAN's trainer (`python -m tcan_core.train`, `tcan-train`): stage 1 (APPA LoRA + appearance UNet)
and stage 2 (motion modules of the UNet and the ControlNet) on diffusers networks and the pack's
pure modules. Needs the `train` extra (diffusers, accelerate, transformers); no ComfyUI import."""
