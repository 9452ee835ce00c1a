"""The web-ui's interrogators as dataset captioners (batch/captions.Captioner).

- "blip": `shared.interrogator` (modules/interrogate.InterrogateModels). Only its BLIP model
  is loaded (`load_blip_model`, to `devices.device_interrogate`, half precision as the host
  does) and `generate_caption` is called: the host's full interrogate() would also load CLIP
  and append artist/medium guesses, which do not belong in a training caption. `unload()`
  (send to RAM unless "keep models in memory", then torch_gc) frees it after the job.
- "deepbooru": `modules.deepbooru.model` (DeepDanbooru): start() loads, tag_multi(pil) gives
  the comma-separated tags with the host's threshold and formatting settings, stop() frees.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _pil(rgb: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8))


BLIP_FILE = "model_base_caption_capfilt_large.pth"  # what modules/interrogate.py loads


class BlipCaptioner:
    name = "blip"

    def _ir(self) -> Any:
        from modules import shared

        ir = getattr(shared, "interrogator", None)
        if ir is None:
            raise RuntimeError("the web-ui has no interrogator")
        return ir

    def begin(self) -> None:
        ir = self._ir()
        if not (hasattr(ir, "load_blip_model") and hasattr(ir, "blip_model")):
            ir.load()  # another host layout: its own loader (BLIP and CLIP)
            return
        from modules import devices, shared

        if ir.blip_model is None:
            try:
                ir.blip_model = ir.load_blip_model()
            except Exception as e:  # the host's loader fails obscurely when its download fails
                raise RuntimeError(
                    f"the web-ui has no BLIP model ({BLIP_FILE} in its models/BLIP folder; it downloads "
                    f"it on first use, which failed: {type(e).__name__}: {e})"
                ) from e
            if not getattr(shared.cmd_opts, "no_half", False) and not getattr(ir, "running_on_cpu", False):
                ir.blip_model = ir.blip_model.half()
        ir.blip_model = ir.blip_model.to(devices.device_interrogate)
        try:
            ir.dtype = next(ir.blip_model.parameters()).dtype
        except (AttributeError, StopIteration, TypeError):
            pass

    def caption(self, rgb: np.ndarray) -> str:
        return str(self._ir().generate_caption(_pil(rgb)))

    def end(self) -> None:
        self._ir().unload()


class DeepbooruCaptioner:
    name = "deepbooru"

    def _model(self) -> Any:
        from modules import deepbooru

        return deepbooru.model

    def begin(self) -> None:
        self._model().start()

    def caption(self, rgb: np.ndarray) -> str:
        return str(self._model().tag_multi(_pil(rgb)))

    def end(self) -> None:
        self._model().stop()


def register(engine: Any) -> None:
    engine.captioners.update({"blip": BlipCaptioner(), "deepbooru": DeepbooruCaptioner()})
