"""FaceSwapLab: face swapping for the AUTOMATIC1111 web-ui and as a standalone library/CLI.

Importing this package loads no model and touches no network, and imports neither numpy, cv2
nor onnxruntime: the Python API (`faceswaplab.Engine`, `faceswaplab.Unit`, docs/python.md) is
exported lazily through the module `__getattr__` below, so the web-ui and `--version` stay fast.
"""

from typing import Any

__version__ = "0.1.0"
TOOL_NAME = "FaceSwapLab"

_LAZY = {"Engine": "python_api", "Unit": "python_api", "SwapOutput": "python_api", "PostOptions": "python_api"}


def __getattr__(name: str) -> Any:
    """PEP 562: import the facade on first use of one of its names."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faceswaplab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
