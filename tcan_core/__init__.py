"""TCAN / TPC for ComfyUI: the method, importable without ComfyUI.

Pure modules (pose/, and later calibrate/, temporal/, appearance/) use numpy, cv2 and torch only;
tcan_core/comfy/ holds the ComfyUI model patches and imports `comfy` lazily.
"""

__version__ = "0.1.0"
