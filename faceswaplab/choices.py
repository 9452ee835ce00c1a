"""The names every front end offers in its dropdowns, and the missing-models notice, from
one engine.

Why one module: the web-ui accordion, the Extras panel, the settings page and the
standalone app all show the same lists (checkpoints, restorers, upscalers, parsers,
swappers); read from the engine, they follow its models directory and whatever a host
registered on it (the web-ui's restorers and upscalers appear as `webui:<name>`), so the
two front ends can never disagree about what is usable.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

from . import checkpoints
from .models.registry import DEFAULT_SWAPPER_KIND, SWAPPER
from .models.sessions import PROVIDER_ALIASES, available_providers
from .models.signature import check_signature

if TYPE_CHECKING:
    from .engine import Engine
    from .models.store import ModelStore

log = logging.getLogger("faceswaplab")

Names = Callable[[], list[str]]
EngineSource = Union["Engine", Callable[[], "Engine"]]  # an engine, or how to get the current one

DEFAULT_SWAPPER_FILE = f"{DEFAULT_SWAPPER_KIND}.onnx"

_sig_lock = threading.Lock()
_sig_cache: dict[tuple[str, int, int], bool] = {}


def checkpoint_names(engine: "Engine") -> list[str]:
    """Usable checkpoints of the engine's folder (faces_dir, else <models dir>/faces/)."""
    return checkpoints.checkpoint_names(engine.store, folder=engine.options.faces_dir)


def restorer_names(engine: "Engine") -> list[str]:
    """Per-unit restorers: registered (host) restorers, then <models dir>/restorers/*.onnx."""
    return engine.restorer_names()


def upscaler_names(engine: "Engine") -> list[str]:
    return engine.upscaler_names()


def parser_names(engine: "Engine") -> list[str]:
    return [p.name for p in engine.store.list_dir("parser")]


def occluder_names(engine: "Engine") -> list[str]:
    """The files in <models dir>/occluders/, then "many" (all of them) when there are two or more."""
    names = engine.occluder_names()
    return names + (["many"] if len(names) > 1 else [])


def _is_swapper(path: Path) -> bool:
    """Signature check cached per (file, size, mtime): reading a large graph's header on
    every settings page build would cost seconds per file."""
    try:
        st = path.stat()
    except OSError:
        return False
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _sig_lock:
        known = _sig_cache.get(key)
    if known is None:
        try:
            known = check_signature(path, SWAPPER) is None
        except Exception:  # an unreadable file is simply not offered
            known = False
        with _sig_lock:
            _sig_cache[key] = known
    return known


def swapper_files(engine: "Engine") -> list[str]:
    """The .onnx files at the top of the models directory that have a swapper's signature
    (the default file's name when there are none, so the dropdown is never empty)."""
    try:
        files = sorted(p for p in engine.store.models_dir.iterdir() if p.suffix.lower() == ".onnx" and p.is_file())
    except OSError:
        files = []
    return [p.name for p in files if _is_swapper(p)] or [DEFAULT_SWAPPER_FILE]


def execution_providers() -> list[str]:
    """ONNX Runtime's providers here, in the short names the settings accept (cpu, cuda...)."""
    try:
        names = available_providers()
    except Exception:  # onnxruntime missing or broken: CPU is what the engine falls back to
        names = ["CPUExecutionProvider"]
    short = {v: k for k, v in reversed(list(PROVIDER_ALIASES.items()))}
    return [short.get(n, n) for n in names]


def sampler_names(engine: "Engine") -> list[str]:
    """The host's Stable Diffusion samplers (inpainting); none outside the web-ui."""
    inpainter = getattr(engine, "inpainter", None)
    return list(inpainter.sampler_names()) if inpainter is not None else []


def providers(engine: EngineSource) -> dict[str, Names]:
    """The dropdown providers the UI builders take, keyed by the options' `dynamic` names.

    `engine` may be a callable returning the current engine (the web-ui's follows its
    settings), read on every call so a dropdown refresh sees new files."""

    def of(names: Callable[["Engine"], list[str]]) -> Names:
        def listed() -> list[str]:
            # A page must build even when the engine cannot (a bad models directory):
            # the list is empty and models_notice says why.
            try:
                return names(engine() if callable(engine) else engine)
            except Exception as e:
                log.warning("FaceSwapLab: cannot list %s: %s", names.__name__, e)
                return []

        return listed

    return {
        "checkpoints": of(checkpoint_names),
        "unit_restorers": of(restorer_names),
        "unit_upscalers": of(upscaler_names),
        "parsers": of(parser_names),
        "occluders": of(occluder_names),
        "swappers": of(swapper_files),
        "samplers": of(sampler_names),
        "providers": execution_providers,
    }


def _where(store: "ModelStore", name: str) -> Path:
    """Where the store looks for a top-level model file (an absolute path is used as it is)."""
    text = os.path.expanduser(name)
    return Path(text) if os.path.isabs(text) else store.path_for(name)


def models_notice(engine: EngineSource) -> str:
    """A visible Markdown line when a file every swap needs is missing ("" when none is).
    Only existence is checked (no hashing): this runs whenever a UI is built. `engine` may
    be a callable, so a settings error while building it (a bad models directory) becomes
    the notice instead of failing the page."""
    try:
        eng = engine() if callable(engine) else engine
        store = eng.store
        missing = [name for name, _kind in eng.required_files() if not _where(store, name).is_file()]
    except Exception as e:  # a bad models dir or swapper name: say so instead of failing the UI
        return f"**FaceSwapLab:** {e}"
    if not missing:
        return ""
    files = ", ".join(f"`{m}`" for m in missing)
    command = store.download_command(missing[0] if len(missing) == 1 else None)
    return (
        f"**Model file(s) missing:** {files} in `{store.models_dir}`. Put them there (see docs/models.md) "
        f"or run `{command}`; the next swap picks them up."
    )
