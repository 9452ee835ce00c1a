"""Stand-in for modules/deepbooru.py (v1.10.1): `model` (DeepDanbooru) with `start()` (load,
to the device), `tag(pil_image)` (start, tag_multi, stop), `tag_multi(pil_image,
force_disable_ranks=False)` (comma-separated tags) and `stop()` (back to CPU, torch_gc)."""
from modules import devices


class DeepDanbooru:
    def __init__(self):
        self.model = None
        self.events = []

    def start(self):
        self.events.append("start")
        self.model = "loaded"

    def stop(self):
        self.events.append("stop")
        self.model = None
        devices.torch_gc()

    def tag(self, pil_image):
        self.start()
        res = self.tag_multi(pil_image)
        self.stop()
        return res

    def tag_multi(self, pil_image, force_disable_ranks=False):
        assert self.model is not None, "start() first"
        self.events.append("tag")
        return f"1person, solo, portrait, {pil_image.width}px"


model = DeepDanbooru()
