"""Load Pose JSON / Save Pose JSON: reuse a pose sequence without running a detector again."""

import os

import folder_paths
from comfy_api.latest import io, ui

from ..tcan_core.pose.pose_json import load_pose_json, save_pose_json
from ..tcan_core.samples import SAMPLE_DIR
from .sockets import PoseKeypoint

SAMPLE_PREFIX = "(TCAN sample) "


def _sample_options():
    return sorted(SAMPLE_PREFIX + name for name in os.listdir(SAMPLE_DIR) if name.endswith(".json"))


def _input_options():
    """JSON files in ComfyUI's input folder, and its sub-folders that hold JSON files (OpenPose per-frame output)."""
    root = folder_paths.get_input_directory()
    if not os.path.isdir(root):
        return []
    options = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_file() and entry.name.lower().endswith(".json"):
            options.append(entry.name)
        elif entry.is_dir() and any(n.lower().endswith(".json") for n in os.listdir(entry.path)):
            options.append(entry.name + "/")
    return options


def resolve_pose_path(name):
    """A combo value -> file or folder path (bundled samples, else ComfyUI's input folder)."""
    if name.startswith(SAMPLE_PREFIX):
        return os.path.join(SAMPLE_DIR, name[len(SAMPLE_PREFIX):])
    return os.path.join(folder_paths.get_input_directory(), name)


class LoadPoseJSON(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANLoadPoseJSON",
            display_name="Load Pose JSON (TCAN)",
            category="TCAN/pose",
            description="Loads a POSE_KEYPOINT sequence: controlnet_aux's pose JSON, or OpenPose's own per-frame "
                        "JSON files (a file, or a folder of them in ComfyUI/input). Bundled samples are listed too.",
            inputs=[
                io.Combo.Input("pose_file", options=_sample_options() + _input_options(),
                               tooltip="A .json file or a folder of OpenPose per-frame .json files in ComfyUI/input."),
                io.Int.Input("canvas_width", default=0, min=0, max=16384,
                             tooltip="Canvas width for files that do not store it (OpenPose); 0 = from the file."),
                io.Int.Input("canvas_height", default=0, min=0, max=16384,
                             tooltip="Canvas height for files that do not store it (OpenPose); 0 = from the file."),
                io.Int.Input("skip_first_frames", default=0, min=0, max=1000000, optional=True,
                             tooltip="Frames to drop at the start (default 0)."),
                io.Int.Input("frame_limit", default=0, min=0, max=1000000, optional=True,
                             tooltip="Frames to keep; 0 = all."),
            ],
            outputs=[PoseKeypoint.Output(display_name="pose"), io.Int.Output(display_name="frame_count")],
        )

    @classmethod
    def execute(cls, pose_file, canvas_width, canvas_height, skip_first_frames=0, frame_limit=0) -> io.NodeOutput:
        pose = load_pose_json(resolve_pose_path(pose_file), canvas_width, canvas_height)
        pose = pose[skip_first_frames:skip_first_frames + frame_limit if frame_limit else None]
        if not pose:
            raise ValueError(f"{pose_file}: no frames left after skipping {skip_first_frames}; lower skip_first_frames")
        return io.NodeOutput(pose, len(pose))

    @classmethod
    def fingerprint_inputs(cls, pose_file, canvas_width, canvas_height, skip_first_frames=0, frame_limit=0):
        path = resolve_pose_path(pose_file)
        stamps = [path]
        if os.path.isdir(path):
            stamps += sorted((e.name, e.stat().st_mtime) for e in os.scandir(path))
        elif os.path.exists(path):
            stamps.append(os.path.getmtime(path))
        return str((stamps, canvas_width, canvas_height))


class SavePoseJSON(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANSavePoseJSON",
            display_name="Save Pose JSON (TCAN)",
            category="TCAN/pose",
            description="Saves a POSE_KEYPOINT sequence as JSON (controlnet_aux's format) in ComfyUI/output.",
            inputs=[
                PoseKeypoint.Input("pose", tooltip="The POSE_KEYPOINT sequence to save (e.g. Pose Retarget's output)."),
                io.String.Input("filename_prefix", default="tcan/pose",
                                tooltip="File name in ComfyUI/output; a / makes sub-folders. A counter is added "
                                        "(tcan/pose_00001_.json), so earlier files are kept."),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, pose, filename_prefix) -> io.NodeOutput:
        output_dir = folder_paths.get_output_directory()
        folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, output_dir)
        path = save_pose_json(pose, os.path.join(folder, f"{filename}_{counter:05}_.json"))
        saved = f"saved {len(pose)} frame(s) to {os.path.relpath(path, output_dir)} in ComfyUI's output folder"
        return io.NodeOutput(ui=ui.PreviewText(saved))
