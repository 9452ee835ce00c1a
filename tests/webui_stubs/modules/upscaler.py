"""Stand-in for modules/upscaler.py (v1.10.1): `Upscaler` with `name`, `scalers`,
`upscale(img: PIL.Image, scale, selected_model: str = None)` calling `do_upscale(img,
selected_model)`, and `UpscalerData(name: str, path: str, upscaler: Upscaler = None, scale: int
= 4, model=None)` with `name`, `data_path`, `scaler`, `scale`."""
from PIL import Image


class Upscaler:
    name = None
    scalers = []

    def __init__(self, create_dirs=False):
        self.scale = 1

    def do_upscale(self, img, selected_model):
        return img

    def upscale(self, img, scale, selected_model: str = None):
        self.scale = scale
        dest_w, dest_h = int((img.width * scale) // 8 * 8), int((img.height * scale) // 8 * 8)
        img = self.do_upscale(img, selected_model)
        if img.width != dest_w or img.height != dest_h:
            img = img.resize((dest_w, dest_h), resample=Image.LANCZOS)
        return img


class UpscalerData:
    name = None
    data_path = None
    scale: int = 4
    scaler: Upscaler = None

    def __init__(self, name: str, path: str, upscaler: Upscaler = None, scale: int = 4, model=None):
        self.name = name
        self.data_path = path
        self.local_data_path = path
        self.scaler = upscaler
        self.scale = scale
        self.model = model


class UpscalerLanczos(Upscaler):
    def __init__(self, dirname=None):
        super().__init__(False)
        self.name = "Lanczos"
        self.scalers = [UpscalerData("Lanczos", None, self)]

    def do_upscale(self, img, selected_model=None):
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=Image.LANCZOS)
