"""Host services behind one adapter: the ONLY module family that imports `modules.*`.

Everything the web-ui offers (settings, command-line flags, models path, face restorers,
upscalers, saving, progress/interrupt state) is reached through the functions here, each
importing `modules` lazily, so importing faceswaplab.webui outside the web-ui costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..engine import Engine
from ..errors import OptionsError
from ..models.store import ModelStore, resolve_models_dir_with_source
from ..options import EngineOptions
from ..ui import spec

log = logging.getLogger("faceswaplab")

TITLE = "FaceSwapLab"
SECTION = ("faceswaplab", "FaceSwapLab")
OPT = "faceswaplab_"
HOST_PREFIX = "webui:"  # names of host restorers/upscalers registered on the engine

_lock = threading.Lock()
_engine: Engine | None = None
_engine_key: tuple[Any, ...] | None = None


def shared() -> Any:
    from modules import shared as s

    return s


def opt(name: str, default: Any = None) -> Any:
    """A FaceSwapLab setting (`faceswaplab_<name>`), or `default` when unset/unknown."""
    try:
        v = getattr(shared().opts, OPT + name)
    except AttributeError:
        return default
    return default if v is None else v


def cmd_opt(name: str) -> Any:
    return getattr(getattr(shared(), "cmd_opts", None), name, None)


def host_models_default() -> Path:
    from modules import paths

    return Path(os.path.abspath(paths.models_path)) / "faceswaplab"


def models_dir_and_source() -> tuple[Path, str]:
    """--faceswaplab-models-dir, else $FACESWAPLAB_MODELS, else <models_path>/faceswaplab/."""
    return resolve_models_dir_with_source(cmd_opt("faceswaplab_models_dir"), host_default=host_models_default())


def store() -> ModelStore:
    path, source = models_dir_and_source()
    return ModelStore(path, source=source)


def providers_setting() -> tuple[str, ...]:
    flag = cmd_opt("faceswaplab_providers")
    if flag:
        return tuple(p.strip() for p in str(flag).split(",") if p.strip())
    v = opt("providers", ["cpu"])
    if isinstance(v, str):
        v = [p for p in v.split(",") if p.strip()]
    return tuple(v) or ("cpu",)


def engine_options() -> EngineOptions:
    path, _ = models_dir_and_source()
    return EngineOptions(
        models_dir=str(path),
        det_size=int(opt("det_size", 640)),
        det_thresh=float(opt("det_thresh", 0.5)),
        det_retry=bool(opt("det_retry", True)),
        providers=providers_setting(),
        threads=int(opt("threads", 0)),
        nsfw_threshold=float(opt("nsfw_threshold", 0.5)),
        swapper=str(opt("swapper", "inswapper_128.onnx") or "inswapper_128.onnx"),
        # the "checkpoints directory" setting: every front end (accordion, API, Extras)
        # resolves checkpoint names there
        faces_dir=str(checkpoints_dir()) if str(opt("checkpoints_dir", "") or "").strip() else None,
    )


def engine() -> Engine:
    """The engine for the current settings. Engines are cheap; sessions are cached per
    (file, providers, threads), so a settings change takes effect on the next call."""
    global _engine, _engine_key
    options = engine_options()
    key = (options,)
    with _lock:
        if _engine is None or _engine_key != key:
            eng = Engine(options, store=ModelStore(Path(options.models_dir or ""), source=models_dir_and_source()[1]))
            register_host_services(eng)
            _engine, _engine_key = eng, key
        return _engine


def reset_engine() -> None:
    """Settings that change sessions (providers, threads): drop cached sessions and engine."""
    global _engine, _engine_key
    from ..models import sessions

    with _lock:
        _engine, _engine_key = None, None
    sessions.clear()


def checkpoints_dir() -> Path:
    custom = str(opt("checkpoints_dir", "") or "").strip()
    if custom:
        return Path(os.path.abspath(os.path.expanduser(custom)))
    from ..checkpoints import checkpoint_folder

    return checkpoint_folder(store())


def checkpoint_names() -> list[str]:
    """Usable checkpoints of the configured folder (validated from their headers)."""
    from .. import checkpoints

    return checkpoints.checkpoint_names(None, folder=checkpoints_dir())


def resolve_checkpoint(name: str) -> str:
    """A dropdown name -> the path the core loads (custom folder) or the name (default folder)."""
    custom = str(opt("checkpoints_dir", "") or "").strip()
    if custom and os.sep not in name and "/" not in name:
        p = checkpoints_dir() / (name if name.endswith(".safetensors") else name + ".safetensors")
        return str(p)
    return name


def swapper_files() -> list[str]:
    """The inswapper-type .onnx files at the top of the models directory."""
    from ..models.signature import check_signature

    s = store()
    out = []
    try:
        files = sorted(p for p in s.models_dir.iterdir() if p.suffix.lower() == ".onnx" and p.is_file())
    except OSError:
        files = []
    for p in files:
        try:
            if check_signature(p, "swapper") is None:
                out.append(p.name)
        except Exception:
            continue
    return out or ["inswapper_128.onnx"]


def available_providers() -> list[str]:
    try:
        from ..models.sessions import available_providers as ap

        names = ap()
    except Exception:
        names = ["CPUExecutionProvider"]
    from ..models.sessions import PROVIDER_ALIASES

    short = {v: k for k, v in reversed(list(PROVIDER_ALIASES.items()))}
    return [short.get(n, n) for n in names]


# --------------------------------------------------------------------------- restorers


def host_face_restorers() -> list[Any]:
    return list(getattr(shared(), "face_restorers", None) or [])


def host_restorer_names() -> list[str]:
    out = []
    for r in host_face_restorers():
        try:
            out.append(str(r.name()))
        except Exception:
            continue
    return out


def find_host_restorer(name: str) -> Any:
    for r in host_face_restorers():
        try:
            if str(r.name()).lower() == name.lower():
                return r
        except Exception:
            continue
    raise OptionsError(f"no web-ui face restorer named {name!r}; available: {', '.join(host_restorer_names()) or 'none'}")


def host_upscalers() -> list[Any]:
    return list(getattr(shared(), "sd_upscalers", None) or [])


def host_upscaler_names() -> list[str]:
    return [str(u.name) for u in host_upscalers() if getattr(u, "name", None) and str(u.name) != "None"]


def find_host_upscaler(name: str) -> Any:
    for u in host_upscalers():
        if str(getattr(u, "name", "")).lower() == name.lower():
            return u
    raise OptionsError(f"no web-ui upscaler named {name!r}; available: {', '.join(host_upscaler_names()) or 'none'}")


def register_host_services(eng: Engine) -> None:
    """Offer the web-ui's restorers and upscalers to the core under `webui:<name>`."""
    from .restorers import HostUpscaler, adapt_restorer

    reg_r = getattr(eng, "register_restorer", None)
    reg_u = getattr(eng, "register_upscaler", None)
    if reg_r is not None:
        for r in host_face_restorers():
            try:
                adapter = adapt_restorer(r)
                reg_r(adapter.name, adapter)
            except Exception as e:  # one odd host restorer must not break the engine
                log.warning("FaceSwapLab: web-ui face restorer not usable: %s", e)
    if reg_u is not None:
        for u in host_upscalers():
            if str(getattr(u, "name", "None")) == "None":
                continue
            try:
                adapter = HostUpscaler(u)
                reg_u(adapter.name, adapter)
            except Exception as e:
                log.warning("FaceSwapLab: web-ui upscaler not usable: %s", e)


def unit_restorer_names() -> list[str]:
    names = [HOST_PREFIX + n for n in host_restorer_names()]
    try:
        names += [p.name for p in store().list_dir("restorer")]
    except Exception:
        pass
    return names


def unit_upscaler_names() -> list[str]:
    try:
        from ..enhance.upscale import BUILTIN_UPSCALERS

        builtin = [str(n) for n in dict(BUILTIN_UPSCALERS)]
    except Exception:
        builtin = ["lanczos"]
    return builtin + [HOST_PREFIX + n for n in host_upscaler_names()]


def parser_names() -> list[str]:
    try:
        return [p.name for p in store().list_dir("parser")]
    except Exception:
        return []


def choice_providers() -> dict[str, Any]:
    return {
        "checkpoints": checkpoint_names,
        "unit_restorers": unit_restorer_names,
        "unit_upscalers": unit_upscaler_names,
        "parsers": parser_names,
        "host_restorers": host_restorer_names,
        "host_upscalers": host_upscaler_names,
    }


# --------------------------------------------------------------------------- post-processing


def postprocess(rgb: np.ndarray, post: spec.PostOptions) -> tuple[np.ndarray, list[str]]:
    """Global post-processing with the web-ui's own restorer and upscaler (whole image)."""
    from PIL import Image

    notes: list[str] = []
    out = rgb
    if post.restorer is not None and post.restorer_visibility > 0:
        r = find_host_restorer(post.restorer)
        if str(r.name()).lower() == "codeformer":
            restored = r.restore(out, w=post.codeformer_weight)
        else:
            restored = r.restore(out)
        restored = np.asarray(restored, dtype=np.uint8)
        if restored.shape == out.shape:
            v = post.restorer_visibility
            out = restored if v >= 1 else (out.astype(np.float32) * (1 - v) + restored.astype(np.float32) * v).round().astype(np.uint8)
            notes.append(f"post: {r.name()} restored the whole image (visibility {v:.2f})")
    if post.upscaler is not None and post.scale > 1.0 and post.upscaler_visibility > 0:
        u = find_host_upscaler(post.upscaler)
        pil = Image.fromarray(out)
        up = u.scaler.upscale(pil, post.scale, u.data_path).convert("RGB")
        v = post.upscaler_visibility
        if v < 1:
            base = pil.resize(up.size, Image.LANCZOS)
            up = Image.blend(base, up, v)
        out = np.asarray(up, dtype=np.uint8)
        notes.append(f"post: upscaled x{post.scale:g} with {u.name}")
    return out, notes


# --------------------------------------------------------------------------- progress, saving


def state() -> Any:
    return getattr(shared(), "state", None)


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


@contextlib.contextmanager
def job(name: str) -> Iterator[None]:
    """A FaceSwapLab folder job as a web-ui job: it waits for the queue lock (never beside a
    generation), then shared.state.begin() (clears an old Interrupt) ... end()."""
    with _queue_lock():
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


def job_hooks() -> Any:
    """How the FaceSwapLab tab's batch and dataset panels run inside the web-ui."""
    from ..ui.batch_panel import JobHooks

    return JobHooks(
        context=job,
        interrupted=interrupted,
        interrupt=interrupt,
        progress=job_progress,
        default_output=outputs_dir,
        allow_paths=not bool(cmd_opt("hide_ui_dir_config")),
        use_progress=not bool(cmd_opt("no_gradio_queue")),
        resolve_checkpoint=resolve_checkpoint,
    )


def save_image(image: Any, path: str, basename: str, **kwargs: Any) -> Any:
    from modules import images

    return images.save_image(image, path, basename, **kwargs)


def other_faceswaplab_extensions(own_dir: Path) -> list[Path]:
    """Other installed extensions that register a script titled FaceSwapLab (the older
    sd-webui-faceswaplab): two scripts with one title break the API and the UI."""
    try:
        from modules import paths

        root = Path(getattr(paths, "extensions_dir", "") or "")
    except Exception:
        return []
    found = []
    try:
        entries = list(root.iterdir()) if str(root) else []
    except OSError:
        entries = []
    own = own_dir.resolve()
    for ext in entries:
        try:
            if ext.resolve() == own or not ext.is_dir():
                continue
        except OSError:
            continue
        scripts_dir = ext / "scripts"
        if (scripts_dir / "faceswaplab.py").is_file() or any(scripts_dir.glob("faceswaplab_*")):
            found.append(ext)
    return found
