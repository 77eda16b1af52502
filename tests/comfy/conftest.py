"""tests/comfy/ run against a real ComfyUI tree; without COMFYUI_PATH they are skipped."""

import os

import pytest

SKIP_REASON = ("COMFYUI_PATH is not set: these tests need a real ComfyUI tree. Set COMFYUI_PATH=/path/to/ComfyUI "
               "(its requirements installed in this Python) and run `python -m pytest tests/comfy`; "
               "see tests/comfy/README.md")


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
