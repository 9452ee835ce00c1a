"""The web-ui's face restorers and upscalers as the core's enhancement protocols
(faceswaplab/enhance/interfaces.py).

- A host restorer whose network is reachable (A1111's `CommonFaceRestoration` in
  modules/face_restoration_utils.py holds `net` and `load_net()`; GFPGAN and CodeFormer are
  such) becomes an aligned `Restorer`: the core warps the swapped face once into the FFHQ
  512 space and we run the host network on that crop directly. No re-detection, no extra
  resampling. The report says "aligned".
- Any other host restorer (only `restore(np_image)`) becomes an `ImageRestorer`: the core
  hands it a region around the face and blends the result with the face's mask. The report
  says it ran on the image around the face.
- Host upscalers (`shared.sd_upscalers`, `u.scaler.upscale(pil, scale, u.data_path)`)
  become `Upscaler`s.

Tensors: the host networks take a float tensor [1,3,512,512] RGB in [-1, 1] and return a
tuple whose first item is the same shape (A1111: codeformer_model.py / gfpgan_model.py
call `self.net(t, w=w, adain=True)[0]` and `self.net(t)[0]`). torch is the host's; when it
is absent (tests' stand-ins) the network gets a numpy array of the same layout.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable

import numpy as np

log = logging.getLogger("faceswaplab")

HOST_PREFIX = "webui:"
NET_SIZE = 512


def _host_name(r: Any) -> str:
    n = r.name
    return str(n() if callable(n) else n)


def has_reachable_net(r: Any) -> bool:
    return hasattr(r, "net") and callable(getattr(r, "load_net", None))


class HostAlignedRestorer:
    """A host restorer run on our FFHQ-aligned 512 crop (the Restorer protocol)."""

    size = NET_SIZE

    def __init__(self, host: Any) -> None:
        self.host = host
        self.host_name = _host_name(host)
        self.name = HOST_PREFIX + self.host_name
        self.codeformer = self.host_name.lower() == "codeformer"
        self._lock = threading.Lock()  # host networks are not documented as thread-safe

    def _net(self) -> Any:
        if self.host.net is None:
            self.host.net = self.host.load_net()
        return self.host.net

    def _device(self) -> Any:
        get = getattr(self.host, "get_device", None)
        try:
            return get() if callable(get) else None
        except Exception:
            return None

    def restore(self, face: np.ndarray, weight: float = 0.5) -> np.ndarray:
        if face.shape[:2] != (NET_SIZE, NET_SIZE):
            raise ValueError(f"{self.name}: expected a {NET_SIZE}x{NET_SIZE} aligned face, got {face.shape}")
        x = (face.astype(np.float32) / 255.0 - 0.5) / 0.5
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        with self._lock:
            net = self._net()
            try:
                import torch  # the host's; absent only under the tests' stand-ins
            except ImportError:
                torch = None
            if torch is not None:
                dev = self._device()
                send = getattr(self.host, "send_model_to", None)
                if dev is not None and callable(send):
                    send(dev)
                t = torch.from_numpy(x)
                if dev is not None:
                    t = t.to(dev)
                with torch.no_grad():
                    out = net(t, w=weight, adain=True)[0] if self.codeformer else net(t)[0]
                y = out.detach().float().cpu().numpy()
            else:
                out = net(x, w=weight, adain=True)[0] if self.codeformer else net(x)[0]
                y = np.asarray(out, dtype=np.float32)
        y = np.clip(y.reshape(3, NET_SIZE, NET_SIZE), -1.0, 1.0)
        return ((y.transpose(1, 2, 0) + 1.0) * 127.5).round().astype(np.uint8)


class HostImageRestorer:
    """A host restorer that only offers whole-image `restore` (the ImageRestorer protocol)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.host_name = _host_name(host)
        self.name = HOST_PREFIX + self.host_name
        self.codeformer = self.host_name.lower() == "codeformer"
        self._lock = threading.Lock()

    def restore_image(self, image: np.ndarray, weight: float = 0.5) -> np.ndarray:
        with self._lock:
            out = self.host.restore(image, w=weight) if self.codeformer else self.host.restore(image)
        out = np.asarray(out)
        if out.dtype != np.uint8:
            out = np.clip(out, 0, 255).round().astype(np.uint8)
        return out


def adapt_restorer(host: Any) -> Any:
    return HostAlignedRestorer(host) if has_reachable_net(host) else HostImageRestorer(host)


class HostUpscaler:
    """A web-ui upscaler (`UpscalerData`) as the core's Upscaler protocol."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.name = HOST_PREFIX + str(data.name)
        self._lock = threading.Lock()

    def upscale(self, image: np.ndarray, scale: int) -> np.ndarray:
        from PIL import Image

        with self._lock:
            out = self.data.scaler.upscale(Image.fromarray(image), scale, self.data.data_path)
        return np.asarray(out.convert("RGB"), dtype=np.uint8)


def register(engine: Any, face_restorers: Iterable[Any], upscalers: Iterable[Any]) -> None:
    """Register the host's networks on the engine under `webui:<name>`; one odd host object
    is logged and skipped, never allowed to break the engine."""
    for r in face_restorers:
        try:
            adapter = adapt_restorer(r)
            engine.register_restorer(adapter.name, adapter)
        except Exception as e:
            log.warning("FaceSwapLab: web-ui face restorer not usable: %s", e)
    for u in upscalers:
        if str(getattr(u, "name", "None")) == "None":  # the web-ui's "no upscaler" entry
            continue
        try:
            up = HostUpscaler(u)
            engine.register_upscaler(up.name, up)
        except Exception as e:
            log.warning("FaceSwapLab: web-ui upscaler not usable: %s", e)
