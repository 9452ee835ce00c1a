"""FastAPI routes under /faceswaplab/v1 over the plain handlers. Used by the web-ui
(`script_callbacks.on_app_started(demo, app)`) and the standalone app.

Routes are plain `def`s, so FastAPI runs them in its thread pool and a slow swap never
blocks the event loop. Expected errors become their HTTP status with `{"detail": message}`;
request bodies that do not validate get FastAPI's 422; anything unexpected is logged and
answered with a 500 whose message carries no traceback.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from ..errors import FaceSwapLabError
from . import auth
from . import handlers as h
from . import models as m

log = logging.getLogger("faceswaplab")

PREFIX = "/faceswaplab/v1"


def _guard(fn: Callable[..., Any], *args: Any) -> Any:
    from fastapi import HTTPException

    try:
        return fn(*args)
    except FaceSwapLabError as e:
        raise HTTPException(status_code=e.http_status, detail=e.message) from None
    except HTTPException:
        raise
    except Exception as e:  # a bug: say so without a traceback in the response
        log.exception("FaceSwapLab API: internal error")
        raise HTTPException(status_code=500, detail=f"internal error: {type(e).__name__}: {e}") from None


def register(app: Any, ctx: h.ApiContext, prefix: str = PREFIX, credentials: Mapping[str, str] | None = None) -> None:
    """Mount the routes on `app`. With `credentials` ({user: password}), every route needs
    HTTP Basic auth (a router attached to a host app inherits none of the host's own)."""
    from fastapi import APIRouter, Depends

    deps = [Depends(auth.dependency(credentials))] if credentials else []
    router = APIRouter(prefix=prefix, tags=["FaceSwapLab"], dependencies=deps)

    @router.get("/version")
    def version() -> dict:
        return h.version()

    @router.post("/swap", response_model=m.SwapResponse)
    def swap(req: m.SwapRequest) -> dict:
        return _guard(h.swap, req, ctx)

    @router.post("/build")
    def build(req: m.BuildRequest) -> dict:
        return _guard(h.build, req, ctx)

    @router.get("/checkpoints")
    def checkpoints() -> dict:
        return _guard(h.checkpoints, ctx)

    @router.post("/compare")
    def compare(req: m.CompareRequest) -> dict:
        return _guard(h.compare, req, ctx)

    @router.post("/extract")
    def extract(req: m.ExtractRequest) -> dict:
        return _guard(h.extract, req, ctx)

    @router.post("/detect")
    def detect(req: m.DetectRequest) -> dict:
        return _guard(h.detect, req, ctx)

    app.include_router(router)
