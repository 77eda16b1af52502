"""ComfyUI progress and cancel for the pack's long loops."""

import comfy.model_management
import comfy.utils


class Progress:
    """A ProgressBar that also checks Cancel at every step (ComfyUI's hook only does so in the server)."""

    def __init__(self, total):
        self.bar = comfy.utils.ProgressBar(max(1, int(total)))

    def step(self, amount=1):
        comfy.model_management.throw_exception_if_processing_interrupted()
        self.bar.update(amount)

    def preview(self, image):
        """Show a preview image (latent_preview's ("JPEG", PIL image, size) tuple) at the current progress."""
        self.bar.update_absolute(self.bar.current, None, image)
