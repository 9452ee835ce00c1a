"""Job control for the folder panels (batch, dataset), shared by the web-ui and the app: what
a host adds to a job (`JobHooks`), Stop (`JobControl`) and progress (`ProgressReporter`).

Host-independent: in the web-ui a job waits for the web-ui's queue lock, shows in
`shared.state` and stops on the web-ui's Interrupt (the adapter in `faceswaplab.webui`); in
the app the panel's Stop button is enough.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Optional

log = logging.getLogger("faceswaplab")

# progress(done, total, text): a host's own progress display (the web-ui's shared.state).
HostProgress = Callable[[int, int, str], None]


@dataclass
class JobHooks:
    """What the host adds to a folder job.

    - `context(name)`: a context manager around the whole job (web-ui: its queue lock, so a
      job never runs beside a generation, and shared.state.begin/end);
    - `interrupted()`: the host's interrupt flag, polled with the panel's Stop;
    - `interrupt()`: what Stop also does while a job of this panel runs (web-ui:
      shared.state.interrupt(), so the web-ui's progress shows the job stopping);
    - `progress(done, total, text)`: the host's own progress display;
    - `default_output(kind)`: the output folder when none is typed ("batch" / "dataset");
    - `allow_paths`: folders on the server may be typed (the web-ui's --hide-ui-dir-config
      turns this off: uploads only, outputs in the default folder);
    - `use_progress`: drive a gr.Progress bar (needs the gradio queue; the web-ui's
      --no-gradio-queue turns it off);
    - `resolve_checkpoint(name)`: a checkpoint dropdown name -> what the core loads;
    - `confine`: the app on a network address: typed folders stay inside its roots, and
      model dropdowns take only names from `choices` (`ui.confine`); None: no limits.
    """

    context: Optional[Callable[[str], ContextManager[Any]]] = None
    interrupted: Optional[Callable[[], bool]] = None
    interrupt: Optional[Callable[[], None]] = None
    progress: Optional[HostProgress] = None
    default_output: Optional[Callable[[str], Path]] = None
    allow_paths: bool = True
    use_progress: bool = True
    resolve_checkpoint: Optional[Callable[[str], str]] = None
    confine: Optional[Any] = None  # ui.confine.Confinement
    choices: Optional[Any] = None  # the dropdowns' choice providers (checked when confined)


class JobControl:
    """Stop for one panel: Stop sets an event the running job polls, together with the
    host's interrupt. Stop outside a running job does nothing (in the web-ui it must not
    interrupt a generation)."""

    def __init__(self, hooks: JobHooks) -> None:
        self.hooks = hooks
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._running = 0

    @contextlib.contextmanager
    def running(self, name: str) -> Iterator[Callable[[], bool]]:
        """Clear a stale Stop, enter the host's context (this may wait for the web-ui's
        queue), and yield `should_stop`. A Stop pressed while waiting still counts."""
        self._event.clear()
        ctx = self.hooks.context(name) if self.hooks.context is not None else contextlib.nullcontext()
        with ctx:
            with self._lock:
                self._running += 1
            try:
                yield self.should_stop
            finally:
                with self._lock:
                    self._running -= 1

    @property
    def is_running(self) -> bool:
        with self._lock:
            return self._running > 0

    def should_stop(self) -> bool:
        if self._event.is_set():
            return True
        fn = self.hooks.interrupted
        try:
            return bool(fn is not None and fn())
        except Exception:  # a broken host hook must not stop or break the job
            return False

    def stop(self) -> str:
        if not self.is_running:
            self._event.set()  # a job still waiting for the host's queue stops when it starts
            return "No job is running."
        self._event.set()
        if self.hooks.interrupt is not None:
            try:
                self.hooks.interrupt()
            except Exception as e:
                log.warning("FaceSwapLab: host interrupt failed: %s", e)
        return "Stopping: the images in progress are finished and recorded, then the job ends. Run again to continue."


class ProgressReporter:
    """on_progress(done, total, item) for run_batch/run_dataset -> a gr.Progress (or any
    callable taking ((done, total), desc=..., unit=...)) and the host's progress."""

    def __init__(self, label: str, bar: Any = None, host: Optional[HostProgress] = None) -> None:
        self.label = label
        self.bar = bar
        self.host = host
        self.counts: Counter[str] = Counter()
        self.calls = 0

    def start(self, text: str) -> None:
        self._show(0, None, f"{self.label}: {text}")

    def download(self, ev: Any) -> None:
        """A first-use model download (models/first_run.FetchProgress) on the same bar: the
        file, its size, licence and how far it got (the message holds no local path)."""
        pct = "" if ev.fraction is None else f" ({ev.fraction:.0%})"
        text = f"{self.label}: {ev.message}{pct}"
        if self.bar is not None:
            try:
                self.bar(float(ev.fraction or 0.0), desc=text)
            except Exception as e:  # progress display must never break a job
                log.debug("progress display failed: %s", e)
        if self.host is not None:
            try:
                self.host(0, 0, text)
            except Exception as e:
                log.debug("host progress failed: %s", e)

    def __call__(self, done: int, total: int, item: Any) -> None:
        self.calls += 1
        self.counts["done earlier" if item.skipped else item.status] += 1
        text = f"{self.label} {done}/{total}: {item.input} {'(done earlier)' if item.skipped else item.status}"
        self._show(done, total, text)

    def _show(self, done: int, total: Optional[int], text: str) -> None:
        if self.bar is not None:
            try:
                self.bar((done, total) if total else 0.0, desc=text, unit="images")
            except Exception as e:  # progress display must never break a job
                log.debug("progress display failed: %s", e)
        if self.host is not None:
            try:
                self.host(done, total or 0, text)
            except Exception as e:
                log.debug("host progress failed: %s", e)


__all__ = ["JobHooks", "JobControl", "ProgressReporter", "HostProgress"]
