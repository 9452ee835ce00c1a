"""Stand-in for modules/interrogate.py (v1.10.1): `InterrogateModels` with `blip_model`,
`clip_model`, `running_on_cpu`, `dtype`, `load_blip_model()`, `load()` (BLIP and CLIP),
`generate_caption(pil_image)`, `send_blip_to_ram()`, `unload()` and `interrogate(pil_image)`.
The "model" captions an image by its size and mean colour; `events` records its lifetime."""
from modules import devices


class _Net:
    def __init__(self):
        self.where = "cpu"

    def to(self, where):
        self.where = where
        return self

    def half(self):
        return self

    def parameters(self):
        return iter([type("P", (), {"dtype": "float32"})()])


class InterrogateModels:
    blip_model = None
    clip_model = None
    running_on_cpu = True
    dtype = None

    def __init__(self, content_dir="interrogate"):
        self.content_dir = content_dir
        self.events = []
        self.fail = False

    def load_blip_model(self):
        self.events.append("load_blip")
        if self.fail:
            raise FileNotFoundError("model_base_caption_capfilt_large.pth could not be downloaded")
        return _Net()

    def load(self):
        if self.blip_model is None:
            self.blip_model = self.load_blip_model()
        self.events.append("load_clip")
        self.clip_model = _Net()

    def generate_caption(self, pil_image):
        assert self.dtype is not None and self.blip_model is not None, "load() or the BLIP loader first"
        import numpy as np

        mean = np.asarray(pil_image.convert("RGB")).reshape(-1, 3).mean(axis=0)
        self.events.append("caption")
        return f"a picture {pil_image.width}x{pil_image.height} mostly {'red' if mean[0] > mean[2] else 'blue'}"

    def send_blip_to_ram(self):
        if self.blip_model is not None:
            self.blip_model = self.blip_model.to(devices.cpu)

    def unload(self):
        self.send_blip_to_ram()
        if self.clip_model is not None:
            self.clip_model = self.clip_model.to(devices.cpu)
        self.events.append("unload")
        devices.torch_gc()

    def interrogate(self, pil_image):
        self.load()
        res = self.generate_caption(pil_image) + ", by an artist"
        self.unload()
        return res
