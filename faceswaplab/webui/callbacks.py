"""Start-up wiring: settings section, the FaceSwapLab tab, the HTTP API, and a clear warning
when the older sd-webui-faceswaplab (same title) is installed too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import OptionsError
from . import host

EXTENSION_DIR = Path(__file__).resolve().parents[2]
_registered = False


def on_ui_settings() -> None:
    from . import settings

    settings.register()


def on_ui_tabs() -> list[tuple[Any, str, str]]:
    from ..ui import tab

    blocks = tab.build(
        engine=host.engine, providers=host.choice_providers(), checkpoints_dir=host.checkpoints_dir, jobs=host.job_hooks()
    )
    return [(blocks, host.TITLE, "faceswaplab_tab")]


def api_context() -> Any:
    from ..api.handlers import ApiContext

    return ApiContext(
        engine=host.engine,
        checkpoints_dir=host.checkpoints_dir,
        resolve_checkpoint=host.resolve_checkpoint,
        no_downloads="the web-ui's API does not download on a request; fetch it with "
        "`python -m faceswaplab models download`, or use FaceSwapLab once in the web-ui's page",
    )


def api_enabled() -> bool:
    """The host serves its own API only with --api (or --nowebui, API only): follow it."""
    return bool(host.cmd_opt("api") or host.cmd_opt("nowebui"))


def api_credentials() -> dict[str, str]:
    """The host's --api-auth ("user:pass,user2:pass2"), applied to our routes as the host
    applies it to /sdapi/v1 (its dependency covers only routes it adds itself)."""
    from ..api.auth import parse_credentials

    return parse_credentials(host.cmd_opt("api_auth"))


def on_app_started(demo: Any, app: Any) -> None:
    from ..api import routes

    if not api_enabled():
        print("[FaceSwapLab] HTTP API not added: the web-ui runs without --api", flush=True)
        return
    try:
        credentials = api_credentials()
    except OptionsError as e:  # fail closed: never serve the routes open by mistake
        print(f"[FaceSwapLab] HTTP API not added: {e.message}", flush=True)
        return
    routes.register(app, api_context(), credentials=credentials or None)


def warn_duplicates() -> list[Path]:
    others = host.other_faceswaplab_extensions(EXTENSION_DIR)
    for other in others:
        print(
            f"[FaceSwapLab] WARNING: another FaceSwapLab extension is installed at {other}. Both register a "
            "script titled 'FaceSwapLab', so the UI and the API cannot tell them apart. Disable or remove one "
            "of them (Extensions tab), then restart the web-ui.",
            flush=True,
        )
    return others


def on_infotext_pasted(infotext: str, params: dict[str, Any]) -> None:
    """Pasted FaceSwapLab settings whose model names this web-ui lacks are left out (see
    job.pasted); the rest restore the accordion through the script's infotext_fields."""
    from ..options import forms
    from . import job as jobmod

    providers = host.choice_providers()
    dynamic = {c.name: c.meta.dynamic for c in forms.unit_controls() if c.meta.dynamic}
    dynamic["checkpoint"] = dynamic.get("face")

    def available(name: str) -> list[str] | None:
        key = dynamic.get(name)
        return providers[key]() if key in providers else None

    for msg in jobmod.pasted(infotext, params, available):
        print(f"[FaceSwapLab] pasted parameters: {msg}", flush=True)


def register() -> None:
    """Called by scripts/faceswaplab.py at import (once per process)."""
    global _registered
    from modules import script_callbacks

    script_callbacks.on_ui_settings(on_ui_settings)
    script_callbacks.on_ui_tabs(on_ui_tabs)
    script_callbacks.on_app_started(on_app_started)
    if hasattr(script_callbacks, "on_infotext_pasted"):
        script_callbacks.on_infotext_pasted(on_infotext_pasted)
    if not _registered:
        warn_duplicates()
    _registered = True
