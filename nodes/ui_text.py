"""Text a node shows on itself in the ComfyUI frontend: notes, summaries, saved paths.

The frontend draws a text box on any node that sends "progress text" (core's Get Image Size does
this); the V3 `ui.PreviewText` output keeps the same text in the prompt history (the frontend itself
only displays that one on Preview Any). A node that uses this declares `hidden=[io.Hidden.unique_id]`.
"""

import sys

from comfy_api.latest import ui


def show_text(cls, text):
    """Shows `text` on the node being executed and returns it as the node's UI output."""
    node_id = cls.hidden.unique_id if cls.hidden is not None else None
    # ComfyUI's main.py has imported its server module; nodes executed without the server (scripts,
    # tests) have none to send to, and importing it here would start one's imports for nothing.
    server = getattr(getattr(sys.modules.get("server"), "PromptServer", None), "instance", None)
    if node_id is not None and server is not None:
        server.send_progress_text(text, node_id)
    return ui.PreviewText(text)
