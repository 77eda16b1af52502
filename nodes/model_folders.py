"""Model folders the pack reads from (via folder_paths, so extra_model_paths.yaml works)."""

import os

import folder_paths

# (folder name, default location under ComfyUI/models); animatediff_models is shared with
# AnimateDiff-Evolved, which registers it too.
FOLDERS = (("animatediff_models", "animatediff_models"), ("tcan", "tcan"))


def register_model_folders():
    for name, subdir in FOLDERS:
        default = os.path.join(folder_paths.models_dir, subdir)
        if name not in folder_paths.folder_names_and_paths:
            folder_paths.folder_names_and_paths[name] = ([default], set(folder_paths.supported_pt_extensions))
        else:
            paths, extensions = folder_paths.folder_names_and_paths[name]
            if default not in paths:
                paths.append(default)
            # a folder added with an empty extension set accepts every file; keep it to model files
            if isinstance(extensions, set):
                extensions.update(folder_paths.supported_pt_extensions)


def model_file(folder, name):
    """Full path of a model file chosen in a combo, or a ValueError saying where to put it."""
    path = folder_paths.get_full_path(folder, name) if name else None
    if not path or not os.path.isfile(path):
        where = ", ".join(folder_paths.get_folder_paths(folder)) or f"ComfyUI/models/{folder}"
        raise ValueError(f"model file {name!r} not found; put it in {where} (folder '{folder}') and refresh")
    return path


def load_motion_module_file(name, with_origin=False):
    """A motion module file chosen in a combo (ComfyUI/models/animatediff_models) -> {name: MotionModule};
    with_origin: (modules, whether the file is a TCAN-trained one: a TCAN UNet or ControlNetT file)."""
    import comfy.utils

    from ..tcan_core.checkpoints import detect_kind
    from ..tcan_core.temporal import load_motion_modules

    path = model_file("animatediff_models", name)
    state = comfy.utils.load_torch_file(path, safe_load=True)
    modules = load_motion_modules(state, source=name)
    if not with_origin:
        return modules
    return modules, detect_kind(state) in ("tcan_unet", "tcan_controlnet")
