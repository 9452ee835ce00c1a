"""Host services behind one adapter: the ONLY module family that imports `modules.*`.

Everything the web-ui offers (settings, command-line flags, models path, face restorers,
upscalers, saving) is reached through the functions here, each importing `modules` lazily,
so importing faceswaplab.webui outside the web-ui costs nothing. The engine for the current
settings lives here; the job state (Interrupt, progress, queue lock) lives in progress.py
and is re-exported, and the dropdown names come from the core's choices module.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

from .. import choices
from ..engine import Engine
from ..models.store import ModelStore, resolve_models_dir_with_source
from ..options import EngineOptions, options_of
from ..options.meta import SETTINGS
from . import captioners, inpaint, restorers
from .progress import download_progress as download_progress  # re-exported: first-use downloads
from .progress import interrupt, interrupted, job, job_progress, outputs_dir
from .progress import set_textinfo as set_textinfo  # re-exported: the accordion reports through host

TITLE = "FaceSwapLab"
SECTION = ("faceswaplab", "FaceSwapLab")
OPT = "faceswaplab_"

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


def engine_options() -> EngineOptions:
    """EngineOptions from the settings page (the engine fields marked for settings; an unset
    setting means the field's default), --faceswaplab-providers and the models folder."""
    values: dict[str, Any] = {}
    for o in options_of(EngineOptions, SETTINGS):
        v = opt(o.meta.setting or o.name, None)
        if v is not None and v != "":
            values[o.name] = v
    flag = cmd_opt("faceswaplab_providers")
    if flag:
        values["providers"] = str(flag)
    # the "checkpoints directory" setting: every front end (accordion, API, Extras) resolves
    # checkpoint names there
    values["faces_dir"] = str(checkpoints_dir()) if str(values.get("faces_dir") or "").strip() else None
    path, _ = models_dir_and_source()
    return EngineOptions(models_dir=str(path), **values)


def engine() -> Engine:
    """The engine for the current settings. Engines are cheap; sessions are cached per
    (file, providers, threads), so a settings change takes effect on the next call. The
    host's restorer and upscaler names are part of the key: the web-ui fills those lists
    after extensions load, and an engine built earlier would not offer them."""
    global _engine, _engine_key
    options = engine_options()
    key = (options, tuple(host_restorer_names()), tuple(host_upscaler_names()))
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


def resolve_checkpoint(name: str) -> str:
    """A dropdown name -> the path the core loads (custom folder) or the name (default folder)."""
    custom = str(opt("checkpoints_dir", "") or "").strip()
    if custom and os.sep not in name and "/" not in name:
        p = checkpoints_dir() / (name if name.endswith(".safetensors") else name + ".safetensors")
        return str(p)
    return name


def swapper_files() -> list[str]:
    """The swapper files of the models directory (the settings page's dropdown)."""
    return choices.swapper_files(engine())


def available_providers() -> list[str]:
    return choices.execution_providers()


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


def host_upscalers() -> list[Any]:
    return list(getattr(shared(), "sd_upscalers", None) or [])


def host_upscaler_names() -> list[str]:
    return [str(u.name) for u in host_upscalers() if getattr(u, "name", None) and str(u.name) != "None"]


def register_host_services(eng: Engine) -> None:
    """Offer the web-ui's restorers and upscalers to the core under `webui:<name>`, and its
    img2img as the engine's inpainter, its BLIP and DeepBooru as dataset captioners."""
    restorers.register(eng, host_face_restorers(), host_upscalers())
    inpaint.register(eng)
    captioners.register(eng)


def unit_restorer_names() -> list[str]:
    """The per-unit restorers: the web-ui's as `webui:<name>`, then the ONNX files."""
    return choices.restorer_names(engine())


def choice_providers() -> dict[str, Callable[[], list[str]]]:
    """The dropdowns' names (choices.providers) for the current settings' engine."""
    return choices.providers(engine)


# --------------------------------------------------------------------------- jobs, saving


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
