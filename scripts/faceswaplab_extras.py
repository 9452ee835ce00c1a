# The Extras tab's FaceSwapLab panel (a ScriptPostprocessing subclass, registered by namespace).
from faceswaplab.webui.postprocessing import FaceSwapLabPostprocessing  # noqa: F401
