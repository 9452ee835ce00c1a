"""The web-ui's img2img as the core's `Inpainter` (enhance/interfaces.py, enhance/inpaint.py).

Each call is one `StableDiffusionProcessingImg2Img` over the aligned face the core cut out,
with the core's soft mask, run by `processing.process_images` on the loaded checkpoint and
VAE (the options a generation job set are still applied while its postprocess_image hook
runs, so the face is diffused with the job's own settings). Guards:

- no recursion: `p.scripts` stays None, so neither our script nor any other alwayson script
  runs inside the face's pass; nothing is saved (`do_not_save_samples`, `do_not_save_grid`);
- the GPU queue: a generation already holds the web-ui's queue lock on this thread (we are
  inside its hook), Extras and our folder jobs hold it too (progress.queue_lock_held); the
  tab's swap and /faceswaplab/v1/swap hold nothing, so they take the lock for each face and
  never sample beside a running generation;
- the job's progress counters are put back after the nested pass, so the web-ui's progress
  bar of the outer job does not jump; Interrupt stops before the next face.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import numpy as np

from ..enhance.inpaint import InpaintRequest, InpaintResult
from ..errors import InpaintError
from .progress import _queue_lock, interrupted, queue_lock_is_held, set_textinfo

NAME = "webui:img2img"
DEFAULT_SAMPLER = "Euler a"
DEFAULT_CFG = 7.0
_STATE_FIELDS = ("job", "job_no", "job_count", "sampling_step", "sampling_steps", "textinfo")

_local = threading.local()
_sd_lock = threading.Lock()


def begin_job(p: Any) -> None:
    """The generation now running on this thread (its sampler and CFG are the defaults; it
    holds the queue lock)."""
    _local.p = p


def end_job(p: Any) -> None:
    if getattr(_local, "p", None) is p:
        _local.p = None


def current_job() -> Any:
    return getattr(_local, "p", None)


def _in_generation() -> bool:
    """Inside a generation's hook on this thread: the host holds the queue lock for it (every
    generation, UI or API, runs under it). A job that ended without our postprocess hook
    (an error) has ended the host's state too, so a stale thread-local is not trusted."""
    from .progress import state

    st = state()
    return current_job() is not None and bool(getattr(st, "job", ""))


@contextlib.contextmanager
def _gpu_turn() -> Iterator[None]:
    """One face's pass at a time (ours may come from several batch workers), and never beside
    a generation: wait for the host's queue lock unless it is already held for this work.
    The host's lock is not re-entrant (a FIFOLock without `locked()`), hence the bookkeeping."""
    with _sd_lock:
        if _in_generation() or queue_lock_is_held():
            yield
            return
        with _queue_lock():
            yield


class HostInpainter:
    """One img2img pass per face (the Inpainter protocol)."""

    name = NAME

    def sampler_names(self) -> list[str]:
        try:
            from modules import sd_samplers

            return [str(s.name) for s in sd_samplers.visible_samplers()]
        except Exception:
            return []

    def inpaint(self, face: np.ndarray, mask: np.ndarray, request: InpaintRequest) -> InpaintResult:
        from PIL import Image

        from modules import processing, shared

        if interrupted():
            raise InpaintError("interrupted: the face was left as it was")
        if getattr(shared, "sd_model", None) is None:
            raise InpaintError("no Stable Diffusion checkpoint is loaded in the web-ui")
        job = current_job()
        sampler = request.sampler or getattr(job, "sampler_name", None) or DEFAULT_SAMPLER
        kwargs: dict[str, Any] = dict(
            sd_model=shared.sd_model,
            prompt=request.prompt,
            negative_prompt=request.negative,
            init_images=[Image.fromarray(np.ascontiguousarray(face[..., :3], dtype=np.uint8))],
            mask=Image.fromarray(np.rint(np.clip(mask, 0.0, 1.0) * 255.0).astype(np.uint8), "L"),
            mask_blur=0,  # the core's mask is already soft
            inpainting_fill=1,  # start from the face itself ("original")
            inpaint_full_res=False,  # the crop is already the face at the working size
            resize_mode=0,
            denoising_strength=request.denoise,
            steps=request.steps,
            sampler_name=sampler,
            seed=request.seed,
            width=request.size,
            height=request.size,
            batch_size=1,
            n_iter=1,
            cfg_scale=float(getattr(job, "cfg_scale", None) or DEFAULT_CFG),
            do_not_save_samples=True,
            do_not_save_grid=True,
        )
        scheduler = getattr(job, "scheduler", None)
        if scheduler:
            kwargs["scheduler"] = scheduler
        state = getattr(shared, "state", None)
        saved = {k: getattr(state, k) for k in _STATE_FIELDS if state is not None and hasattr(state, k)}
        set_textinfo("FaceSwapLab: inpainting a face")
        try:
            with _gpu_turn():
                p = processing.StableDiffusionProcessingImg2Img(**kwargs)
                p.scripts = None
                try:
                    processed = processing.process_images(p)
                finally:
                    close = getattr(p, "close", None)
                    if callable(close):
                        close()
        except InpaintError:
            raise
        except Exception as e:  # the host's sampler: out of memory, a broken checkpoint...
            raise InpaintError(f"the web-ui's img2img failed: {type(e).__name__}: {e}") from e
        finally:
            for k, v in saved.items():
                with contextlib.suppress(Exception):
                    setattr(state, k, v)
        images = list(getattr(processed, "images", None) or [])
        if not images:
            raise InpaintError("the web-ui's img2img returned no image (interrupted?)")
        out = np.asarray(images[0].convert("RGB"))
        if out.shape[:2] != (request.size, request.size):
            out = np.asarray(images[0].convert("RGB").resize((request.size, request.size), Image.LANCZOS))
        return InpaintResult(out, sampler)


def register(engine: Any) -> None:
    engine.inpainter = HostInpainter()
