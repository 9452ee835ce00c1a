"""A stand-in web-ui host for the adapter tests: the stub `modules` package first on sys.path,
a data folder whose models path holds the tiny stand-in models under faceswaplab/, and the
extension's scripts loaded the way the web-ui loads them."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUBS = ROOT / "tests" / "webui_stubs"


def install_stubs() -> None:
    if str(STUBS) not in sys.path:
        sys.path.insert(0, str(STUBS))
    import modules  # noqa: F401

    assert Path(modules.__file__).resolve().parent == STUBS / "modules", "a real web-ui `modules` is on sys.path"


def setup_host(data_dir: Path, models_dir: Path):
    """Point the stub host at data_dir (models copied under models/faceswaplab) and load the
    extension's scripts. Returns the stub `modules.scripts`."""
    install_stubs()
    from modules import paths, scripts, shared

    paths.configure(data_dir)
    shared.models_path = paths.models_path
    target = Path(paths.models_path) / "faceswaplab"
    if not target.exists():
        shutil.copytree(models_dir, target)
    shared.cmd_opts.faceswaplab_models_dir = None
    shared.face_restorers[:] = []
    shared.sd_upscalers[:] = []
    shared.state.begin()
    from faceswaplab.webui import host

    host.reset_engine()
    scripts.load_scripts([str(ROOT)])
    from modules import script_callbacks

    script_callbacks.ui_settings_callback()  # the host registers settings before building the UI
    return scripts


def reload_stub(name: str):
    return importlib.import_module(name)
