"""The first run gets what it needs: a known model file that is missing is fetched on first use.

Why here: `ModelStore.require` is where every front end (swap, batch, dataset, build, video, the
app, the web-ui, the Python API) learns that a file is missing, so the Engine attaches a
`Fetcher` to its store (`attach`) and each front end gets the same first run without code of
its own. The transfer itself is `download.py` (temp file, length/size/sha256 checks, atomic
rename): nothing half-written ever lands under the real name.

Before a transfer starts, one line names the file, its size, its licence and where it goes;
then a progress bar. With no callback that is a line and a tqdm bar on stderr (the user's own
console, so the line shows the folder's path). A front end with its own progress display
(gr.Progress, the web-ui job state) wraps the job in `progress_to(callback)`: the callback gets
`FetchProgress` events whose message never holds a local path, so it can be shown in a page.

Offline (EngineOptions.offline, `--offline`, the web-ui setting, FACESWAPLAB_OFFLINE=1, and
`serve` unless --allow-download) nothing touches the network and the missing-model message,
which names the command that fetches the file, says why it was not fetched.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DownloadError
from .registry import ModelSpec

__all__ = ["OFFLINE_ENV", "FetchProgress", "Fetcher", "attach", "no_downloads", "offline_from_env", "progress_to"]

log = logging.getLogger("faceswaplab")

OFFLINE_ENV = "FACESWAPLAB_OFFLINE"
_TRUE = {"1", "true", "yes", "on"}
OFF_HINT = f"--offline or {OFFLINE_ENV}=1 never downloads"


def offline_from_env(env: Mapping[str, str] | None = None) -> bool:
    """FACESWAPLAB_OFFLINE=1 (true/yes/on): read at fetch time, so it applies to engines
    made before it was set (the test session sets it for every test)."""
    env = os.environ if env is None else env
    return (env.get(OFFLINE_ENV) or "").strip().lower() in _TRUE


@dataclass(frozen=True)
class FetchProgress:
    """One progress event of a first-use download, for a front end's own progress display.

    `filename` is what is being transferred (a model file, or the archive holding several);
    `message` is the one announcement line, without any local path (safe in a web page)."""

    filename: str
    done: int
    total: int | None
    message: str
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """0..1 when the size is known (what gr.Progress takes), else None."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[FetchProgress], None]
_callback: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("faceswaplab_fetch", default=None)


@contextlib.contextmanager
def progress_to(callback: ProgressCallback | None) -> Iterator[None]:
    """Send the progress of downloads started in this block to `callback` instead of stderr.
    It is a context variable: it holds in this thread (and asyncio task); a thread started
    inside the block runs `contextvars.copy_context().run(fn)` to keep it. In a gradio handler:

        with first_run.progress_to(lambda ev: progress(ev.fraction or 0, desc=ev.message)):
            preflight(engine, units, post)
    """
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


_forbidden: contextvars.ContextVar[str] = contextvars.ContextVar("faceswaplab_no_fetch", default="")


@contextlib.contextmanager
def no_downloads(reason: str) -> Iterator[None]:
    """Nothing started in this block downloads, whatever the store's fetcher allows; the
    missing-model message ends with `reason`. For an HTTP request handled by a server whose
    engine may download otherwise (the web-ui's API routes: a request must not make the server
    reach the internet)."""
    token = _forbidden.set(reason)
    try:
        yield
    finally:
        _forbidden.reset(token)


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(folder: Path) -> threading.Lock:
    """One download at a time per models folder: two threads asking for the same missing file
    (batch workers, two app users) fetch it once."""
    with _locks_guard:
        return _locks.setdefault(str(folder), threading.Lock())


def _size_text(n: int | None) -> str:
    if n is None:
        return "size not published"
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{max(1, round(n / 1024))} KiB"


class _Bar:
    """Feeds one transfer's progress to the callback (a download.BarFactory's bar)."""

    def __init__(self, callback: ProgressCallback, filename: str, total: int | None, message: str) -> None:
        self.callback, self.filename, self.total, self.message = callback, filename, total, message
        self.done = 0
        self.callback(FetchProgress(filename, 0, total, message))

    def update(self, n: int) -> None:
        self.done += n
        self.callback(FetchProgress(self.filename, self.done, self.total, self.message))

    def close(self) -> None:
        self.callback(FetchProgress(self.filename, self.done, self.total, self.message, finished=True))


class _Announcer:
    """The `progress=` factory handed to download_missing: at the start of each transfer, the
    one line (file, size, licence, where it goes), then the bar."""

    def __init__(self, store: Any, specs: list[ModelSpec], callback: ProgressCallback | None) -> None:
        self.store, self.specs, self.callback = store, specs, callback

    def line(self, label: str, total: int | None, with_path: bool) -> str:
        arch = next((a for a in self.store.archives if a.name == label), None)
        if arch is not None:
            covered = [s for s in self.specs if s.archive == arch.name]
            size, folder = total or arch.size, self.store.models_dir / arch.folder
            what = f"{label} ({_size_text(size)}, holding {', '.join(s.filename for s in covered)}"
        else:
            covered = [s for s in self.specs if s.filename == label][:1]
            spec = covered[0] if covered else None
            size = total or (spec.size if spec else None)
            folder = self.store.path_for(spec.name).parent if spec else self.store.models_dir
            what = f"{label} ({_size_text(size)}"
        licences = list(dict.fromkeys(s.licence for s in covered if s.licence)) or ["as its authors state"]
        where = f"the FaceSwapLab models folder {folder}" if with_path else "the FaceSwapLab models folder"
        return f"Downloading {what}; licence: {'; '.join(licences)}) into {where}"

    def __call__(self, total: int | None, label: str) -> Any:
        log.info("%s", self.line(label, total, with_path=True))
        if self.callback is not None:
            return _Bar(self.callback, label, total, self.line(label, total, with_path=False))
        print(f"{self.line(label, total, with_path=True)} (first use; {OFF_HINT})", file=sys.stderr, flush=True)
        try:
            from tqdm import tqdm
        except ImportError:  # a bar is a nicety
            return None
        return tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=True)


class Fetcher:
    """What a store does with a missing known file: fetch it, or (offline) leave it.

    `reason` replaces the default wording of why nothing was fetched (serve says how to allow
    it); `opener`/`timeout` go to urllib (tests pass a proxy-free opener)."""

    def __init__(self, *, offline: bool = False, reason: str = "", opener: Any = None, timeout: float = 60) -> None:
        self.offline = offline
        self.reason = reason
        self.opener = opener
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Fetcher(offline={self.offline!r})"

    def is_offline(self) -> bool:
        return self.offline or offline_from_env() or bool(_forbidden.get())

    def offline_note(self) -> str:
        """Appended to the missing-model message: why it was not fetched."""
        if _forbidden.get() and not self.offline:
            return f" (not downloaded: {_forbidden.get()})"
        if self.offline:
            return f" (not downloaded: {self.reason or 'offline mode is on (--offline)'})"
        return f" (not downloaded: {OFFLINE_ENV} is set)"

    def fetch(self, store: Any, spec: ModelSpec) -> bool:
        """True once `spec`'s file is usable; False when offline (nothing was attempted).
        Raises DownloadError (exit code 3) with one line when the transfer fails; nothing is
        left behind then. A file from an archive comes with the other missing files of the
        same archive, so the archive is fetched once, not once per file."""
        if self.is_offline():
            return False
        from .download import download_missing

        with _lock_for(store.models_dir):
            if store.status(spec.name).usable:  # another thread fetched it meanwhile
                return True
            batch = [spec]
            if spec.archive:
                batch += [s for s in store.specs if s.archive == spec.archive and s != spec
                          and s.url and store.status(s.name).state == "missing"]  # fmt: skip
            announcer = _Announcer(store, batch, _callback.get())
            results = download_missing(store, [s.name for s in batch], progress=announcer, timeout=self.timeout,
                                       opener=self.opener)  # fmt: skip
        mine = next((r for r in results if r.name == spec.name), None)
        if mine is None or not mine.ok:
            why = mine.message if mine is not None else "no result"
            raise DownloadError(
                f"could not download the model file {spec.filename} on first use: {why}. Check the internet "
                f"connection and run again, or fetch it with: {store.download_command(spec.name)} ({OFF_HINT})"
            )
        return True


def attach(store: Any, options: Any) -> None:
    """Give `store` the first-run behaviour `options` asks for (EngineOptions.offline). A
    store that already has a fetcher keeps it (serve's, a test's), unless offline is asked."""
    offline = bool(getattr(options, "offline", False))
    current = getattr(store, "fetcher", None)
    if offline and (current is None or not current.offline):
        store.fetcher = Fetcher(offline=True)
    elif current is None:
        store.fetcher = Fetcher()
