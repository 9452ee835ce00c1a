"""Enhancement in aligned space: face restoration (ONNX or a host's), upscaling, face parsing
masks, the original mouth, colour correction and sharpening. Every step works on the aligned
face; the face goes back into the image with one warp (swap/face_swap.py)."""

from .interfaces import ImageRestorer, Restorer, Upscaler

__all__ = ["Restorer", "ImageRestorer", "Upscaler"]
