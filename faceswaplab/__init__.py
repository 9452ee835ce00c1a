"""FaceSwapLab: face swapping for the AUTOMATIC1111 web-ui and as a standalone library/CLI.

Importing this package loads no model and touches no network; everything heavy is lazy.
"""

__version__ = "0.1.0"
TOOL_NAME = "FaceSwapLab"
