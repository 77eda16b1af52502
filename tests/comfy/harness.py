"""A real ComfyUI, in this process, on the CPU, with this pack loaded as a custom node.

COMFYUI_PATH names the ComfyUI tree (see tests/comfy/README.md); everything here is imported
from it, nothing is copied. Import order matters: CPU mode must be set before
comfy.model_management is imported, or it looks for CUDA.

TCAN_EXTRA_NODE_PACKS may list further custom-node pack directories (separated by os.pathsep), loaded
after this pack, e.g. comfyui_controlnet_aux so the workflows that use its DWPreprocessor get validated.
"""

import asyncio
import os
import sys
import tempfile
import uuid

PACK_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACK_NODE_IDS = ("TCANLoadTCAN", "TCANSampleLongVideo", "TCANPoseRetarget", "TCANProcrustesCalibrate",
                 "TCANRenderPose", "TCANLoadPoseJSON", "TCANSavePoseJSON", "TCANApplyMotionModule",
                 "TCANTemporalControlNet", "TCANLoadSampleImage")

_state = {}


def start():
    """Import ComfyUI from COMFYUI_PATH, load its core and extra nodes and this pack (once)."""
    if _state:
        return _state["nodes"]
    root = os.path.abspath(os.environ["COMFYUI_PATH"])
    if root not in sys.path:
        sys.path.insert(0, root)
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args

    comfy.cli_args.args.cpu = os.environ.get("TCAN_TEST_DEVICE", "cpu") != "cuda"  # the GPU check runs some on CUDA
    import comfy.model_management  # noqa: F401  (after cpu=True)
    import folder_paths

    work = tempfile.mkdtemp(prefix="tcan-comfy-")
    for name, setter in (("input", folder_paths.set_input_directory), ("output", folder_paths.set_output_directory),
                         ("temp", folder_paths.set_temp_directory)):
        os.makedirs(os.path.join(work, name))
        setter(os.path.join(work, name))
    models = os.environ.get("TCAN_TEST_MODELS")
    if models:
        for folder in ("checkpoints", "controlnet", "vae", "loras", "animatediff_models", "tcan"):
            if os.path.isdir(os.path.join(models, folder)):
                folder_paths.add_model_folder_path(folder, os.path.join(models, folder), is_default=True)
    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    loaded = asyncio.run(nodes.load_custom_node(PACK_DIR))
    if not loaded:
        raise RuntimeError(f"ComfyUI did not load the pack at {PACK_DIR}; see the log above")
    for extra in filter(None, os.environ.get("TCAN_EXTRA_NODE_PACKS", "").split(os.pathsep)):
        if not asyncio.run(nodes.load_custom_node(os.path.abspath(extra))):
            raise RuntimeError(f"ComfyUI did not load the TCAN_EXTRA_NODE_PACKS pack at {extra}; see the log above")
    _state.update(nodes=nodes, work=work)
    return nodes


def release_memory():
    """Unload every model from ComfyUI, collect garbage and return glibc's free heap to the OS."""
    if not _state:  # ComfyUI was never imported here (e.g. only the browser test ran)
        return
    import ctypes
    import gc

    import comfy.model_management

    _state["workflow_ran"] = False
    comfy.model_management.unload_all_models()
    gc.collect()
    comfy.model_management.cleanup_models_gc()
    comfy.model_management.soft_empty_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def workflow_ran():
    return bool(_state.get("workflow_ran"))


def work_dir():
    return _state["work"]


class _ServerStub:
    """The few attributes PromptExecutor uses; records the messages it sends."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.messages = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def queue_updated(self):
        pass


def validate(prompt):
    """ComfyUI's own prompt validation (what POST /prompt runs): (valid, error, outputs, node_errors)."""
    import execution

    return asyncio.run(execution.validate_prompt(str(uuid.uuid4()), prompt, None))


def execute(prompt):
    """Validate and execute an API-format prompt; returns (executor, history outputs). Raises on failure."""
    import execution

    valid, error, outputs, node_errors = validate(prompt)
    if not valid:
        raise AssertionError(f"prompt invalid: {error} {node_errors}")
    server = _ServerStub()
    executor = execution.PromptExecutor(server, cache_type=False)
    _state["workflow_ran"] = True  # its loaders loaded their own copies of the models
    executor.execute(prompt, str(uuid.uuid4()), {}, outputs)
    if not executor.success:
        errors = [data for event, data in executor.status_messages if event == "execution_error"]
        raise AssertionError(f"execution failed: {errors}")
    return executor, executor.history_result["outputs"]
