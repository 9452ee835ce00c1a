"""ONNX Runtime sessions: one per (model file, providers, threads) per process, created lazily
behind a lock and shared by every call and every thread.

This cache is the only process-wide mutable state of the core. Provider names are checked
against what ONNX Runtime offers before a session is built, so a missing CUDA build falls
back to CPU with one visible warning instead of a wall of native errors.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import ModelCorruptError, OptionsError, ProviderError

log = logging.getLogger("faceswaplab")

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "gpu": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}

_lock = threading.RLock()
_cache: dict[tuple[Any, ...], Any] = {}
_warned: set[str] = set()


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def normalize_provider(name: str) -> str:
    key = name.strip()
    full = PROVIDER_ALIASES.get(key.lower())
    if full:
        return full
    if key.endswith("ExecutionProvider"):
        return key
    raise OptionsError(
        f"unknown execution provider {name!r}; use short names ({', '.join(sorted(set(PROVIDER_ALIASES)))}) "
        "or full ONNX Runtime names such as CUDAExecutionProvider"
    )


def _warn_once(message: str) -> None:
    with _lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning(message)


def resolve_providers(requested: Sequence[str]) -> list[str]:
    """Requested names -> providers ONNX Runtime offers here, always ending with CPU."""
    wanted = [normalize_provider(p) for p in requested] or ["CPUExecutionProvider"]
    offered = available_providers()
    out: list[str] = []
    for p in wanted:
        if p in offered:
            if p not in out:
                out.append(p)
        else:
            hint = ""
            if p == "CUDAExecutionProvider":
                hint = (
                    " Install onnxruntime-gpu instead of onnxruntime (never both: "
                    "pip uninstall onnxruntime onnxruntime-gpu, then pip install onnxruntime-gpu)."
                )
            _warn_once(
                f"execution provider {p} is not available in this onnxruntime "
                f"(available: {', '.join(offered)}); falling back to CPU.{hint}"
            )
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")
    return out


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def session_options(threads: int) -> Any:
    """Session options for `threads` intra-op threads (0: ONNX Runtime's default, every core).

    A session limited to fewer threads than the machine has cores shares them with other
    work (batch workers each get cores / workers threads): its pool then does not spin
    between runs ("session.intra_op.allow_spinning" = "0"), which would burn the cores the
    other workers are computing on. The setting follows from `threads`, which is part of
    the cache key, so one key always means one configuration."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads > 0:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        if threads < _cores():
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3  # errors only: provider chatter goes through our warnings
    return so


@dataclass(frozen=True)
class SessionKey:
    path: str
    mtime_ns: int
    size: int
    providers: tuple[str, ...]
    threads: int
    kind: str


def _key(path: Path, providers: Sequence[str], threads: int, kind: str) -> SessionKey:
    st = os.stat(path)
    return SessionKey(str(Path(path).resolve()), st.st_mtime_ns, st.st_size, tuple(providers), int(threads), kind)


def check_applied(session: Any, providers: Sequence[str], path: Path) -> None:
    """Warn when ONNX Runtime silently dropped an accelerator it could not initialise."""
    try:
        applied = list(session.get_providers())
    except Exception:  # pragma: no cover - foreign session objects
        return
    for p in providers:
        if p != "CPUExecutionProvider" and p not in applied:
            _warn_once(
                f"{p} could not be initialised for {Path(path).name} and ONNX Runtime fell back to "
                f"{', '.join(applied)}. For CUDA this usually means the installed CUDA/cuDNN versions do "
                "not match onnxruntime-gpu's; see README 'Using a GPU'."
            )


def _readable_failure(path: Path, providers: Sequence[str], err: Exception) -> Exception:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    lowered = str(err).lower()
    if any(w in lowered for w in ("cuda", "cudnn", "tensorrt", "libcublas", "dml", "provider")):
        return ProviderError(
            f"could not start {', '.join(providers)} for {Path(path).name}: {text[:300]}. "
            "Check that the CUDA/cuDNN versions match your onnxruntime-gpu, or run with --providers cpu."
        )
    return ModelCorruptError(
        f"ONNX Runtime could not load {path}: {text[:300]}. The file may be damaged: delete it and run "
        "'python -m faceswaplab models download', or replace it with a good copy."
    )


def cached(
    path: Path,
    providers: Sequence[str],
    threads: int,
    kind: str,
    factory: Callable[[list[str], Any], Any],
) -> Any:
    """Return the cached object for this file/providers/threads, building it once.

    `factory(providers, sess_options)` builds the object (a bare session, or an insightface
    model wrapping one). Errors are turned into readable ModelError/ProviderError messages.
    """
    providers = list(providers)
    key = _key(Path(path), providers, threads, kind)
    with _lock:
        obj = _cache.get(key)
        if obj is not None:
            return obj
        try:
            obj = factory(providers, session_options(threads))
        except (OptionsError, ProviderError, ModelCorruptError):
            raise
        except Exception as err:  # native ORT errors, protobuf decode errors, asserts in insightface
            raise _readable_failure(Path(path), providers, err) from err
        session = getattr(obj, "session", obj)
        check_applied(session, providers, Path(path))
        _cache[key] = obj
        return obj


def create_session(path: Path, providers: Sequence[str], threads: int = 0) -> Any:
    """A bare cached onnxruntime.InferenceSession (swapper, restorers, parsers)."""
    import onnxruntime as ort

    def factory(provs: list[str], so: Any) -> Any:
        return ort.InferenceSession(str(path), sess_options=so, providers=provs)

    return cached(Path(path), providers, threads, "session", factory)


def clear() -> None:
    """Drop every cached session (settings changed providers, or tests)."""
    with _lock:
        _cache.clear()
        _warned.clear()
