"""ComfyUI model patches. The only part of tcan_core that imports `comfy`, and only inside functions
or modules that are imported from ComfyUI nodes, so `import tcan_core` works without ComfyUI."""
