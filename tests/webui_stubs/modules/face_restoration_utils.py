"""Stand-in for modules/face_restoration_utils.py (v1.10.1): `CommonFaceRestoration(model_path)`
with `net` (None until `load_net()`), `model_path`, `get_device()`, `load_net()`,
`send_model_to(device)` and `restore_with_helper(np_image, restore_face)`. The real class runs
torch networks through facexlib; this one works on numpy (no torch here)."""
from modules import face_restoration


class CommonFaceRestoration(face_restoration.FaceRestoration):
    def __init__(self, model_path: str):
        super().__init__()
        self.net = None
        self.model_path = model_path

    def get_device(self):
        raise NotImplementedError("get_device must be implemented by subclasses")

    def load_net(self):
        raise NotImplementedError("load_net must be implemented by subclasses")

    def send_model_to(self, device):
        pass

    def restore_with_helper(self, np_image, restore_face):
        if self.net is None:
            self.net = self.load_net()
        return restore_face(np_image)
