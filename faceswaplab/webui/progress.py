"""The web-ui's job state as FaceSwapLab sees it: Interrupt, progress text, the GPU queue lock
and where folder jobs write.

Kept apart from the host services (host.py) because it is the part every long-running step
touches (the accordion per image, the tab's batch and dataset jobs), and it depends on
nothing but `modules.shared.state`, imported lazily so this module loads outside the web-ui.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Iterator


def state() -> Any:
    from modules import shared

    return getattr(shared, "state", None)


def interrupted() -> bool:
    st = state()
    return bool(st is not None and (getattr(st, "interrupted", False) or getattr(st, "stopping_generation", False)))


def set_textinfo(text: str) -> None:
    st = state()
    if st is not None:
        try:
            st.textinfo = text
        except Exception:
            pass


def interrupt() -> None:
    """The web-ui's Interrupt (what its button and /sdapi/v1/interrupt do)."""
    st = state()
    if st is not None and hasattr(st, "interrupt"):
        st.interrupt()


def _queue_lock() -> Any:
    """The web-ui's GPU queue lock (generation holds it; so do its own batch jobs)."""
    try:
        from modules.call_queue import queue_lock

        return queue_lock
    except Exception:  # an older or different host: run without it
        return contextlib.nullcontext()


_held = 0  # how many of our jobs run under the queue lock now (folder jobs, Extras)
_held_guard = threading.Lock()


@contextlib.contextmanager
def queue_lock_held() -> Iterator[None]:
    """Marks work that runs while the queue lock is held for it (by us or by the host, as in
    Extras), so a step that needs the GPU (inpainting) knows not to wait for the lock: it is
    a plain Lock, and waiting for it there would wait forever, also from a batch worker
    thread of the job that holds it."""
    global _held
    with _held_guard:
        _held += 1
    try:
        yield
    finally:
        with _held_guard:
            _held -= 1


def queue_lock_is_held() -> bool:
    return _held > 0


@contextlib.contextmanager
def job(name: str) -> Iterator[None]:
    """A FaceSwapLab folder job as a web-ui job: it waits for the queue lock (never beside a
    generation), then shared.state.begin() (clears an old Interrupt) ... end()."""
    with _queue_lock(), queue_lock_held():
        st = state()
        if st is not None:
            st.begin(job=name)
        try:
            yield
        finally:
            if st is not None:
                st.end()


def job_progress(done: int, total: int, text: str) -> None:
    """Progress of a folder job in shared.state (the web-ui's progress API and console)."""
    st = state()
    if st is None:
        return
    try:
        st.job_count = total
        st.job_no = done
        st.textinfo = text
    except Exception:
        pass


def outputs_dir(kind: str) -> Path:
    """Default output folder of folder jobs: <web-ui data>/outputs/faceswaplab/<kind>."""
    from modules import paths

    root = getattr(paths, "data_path", None) or os.getcwd()
    return Path(os.path.abspath(root)) / "outputs" / "faceswaplab" / kind


_announced: set[str] = set()


def download_progress(ev: Any) -> None:
    """A first-use model download (models/first_run.FetchProgress) in the web-ui: its line
    once in the console, its progress in the job state (the page's progress text)."""
    if ev.filename not in _announced:
        _announced.add(ev.filename)
        print(f"[FaceSwapLab] {ev.message}", flush=True)
    pct = "" if ev.fraction is None else f" {ev.fraction:.0%}"
    set_textinfo(f"FaceSwapLab: downloading {ev.filename}{pct}" + (" (done)" if ev.finished else ""))
