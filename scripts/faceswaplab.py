# The web-ui loads this file with the extension folder first on sys.path; everything lives in
# the faceswaplab package. The Script subclass is registered because it is in this namespace.
from faceswaplab.webui import callbacks
from faceswaplab.webui.script import FaceSwapLabScript  # noqa: F401

callbacks.register()
