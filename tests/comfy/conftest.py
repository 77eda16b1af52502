"""tests/comfy/ run against a real ComfyUI tree; without COMFYUI_PATH they are skipped."""

import os

import pytest

SKIP_REASON = ("COMFYUI_PATH is not set: these tests need a real ComfyUI tree. Set COMFYUI_PATH=/path/to/ComfyUI "
               "(its requirements installed in this Python) and run `python -m pytest tests/comfy`; "
               "see tests/comfy/README.md")


def pytest_addoption(parser):
    parser.addoption("--repin", action="store_true", default=False,
                     help="test_pinned_output: print new digests instead of comparing (outputs changed on purpose)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("COMFYUI_PATH"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def comfy_nodes():
    from . import harness

    return harness.start()


@pytest.fixture(autouse=True, scope="module")
def release_memory_after_each_module():
    """Each module loads multi-GB models; unload them from ComfyUI and give the freed memory back to the
    OS afterwards, or the suite's resident memory adds up past a 24 GB machine."""
    yield
    if os.environ.get("COMFYUI_PATH"):
        from . import harness

        harness.release_memory()


@pytest.fixture(autouse=True)
def release_memory_after_a_workflow():
    """A workflow run loads its own copies of the checkpoint and ControlNet (GBs); drop them."""
    yield
    if os.environ.get("COMFYUI_PATH"):
        from . import harness

        if harness.workflow_ran():
            harness.release_memory()


@pytest.fixture(scope="module")
def parts(comfy_nodes):
    """(MODEL, CLIP, CONTROL_NET, v2 motion-module state dict, its modules, the UNet's weights by LDM name):
    the random SD1.5-shaped models most tests build on (TCAN_TEST_MODELS)."""
    import comfy.controlnet
    import comfy.model_management
    import comfy.utils

    from tcan_core.temporal import load_motion_modules

    from .models import CONTROLNET, MOTION_V2, model_path, sd15

    model, clip, _ = sd15()
    control_net = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET))
    motion_state = comfy.utils.load_torch_file(model_path("animatediff_models", MOTION_V2))
    comfy.model_management.unload_all_models()  # the weights below without another clone's patches
    unet_ldm = {k: v.float() for k, v in model.model.diffusion_model.state_dict().items()}
    return model, clip, control_net, motion_state, load_motion_modules(motion_state), unet_ldm
