"""ComfyUI-TCAN: pose-driven human animation (TCAN, ECCV 2024; TPC, NeurIPS 2024) for ComfyUI.

ComfyUI loads this file as a custom node pack and calls comfy_entrypoint() (V3 node API).
Nothing heavy happens at import: the nodes (and ComfyUI's own modules) are imported on demand.
"""

# web/: the frontend extension that shows the nodes' text outputs (notes, summaries, saved paths) on them.
WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import TCANExtension

    return TCANExtension()
