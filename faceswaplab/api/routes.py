"""FastAPI routes under /faceswaplab/v1 over the plain handlers. Used by the web-ui
(`script_callbacks.on_app_started(demo, app)`) and the standalone app.

Routes are plain `def`s, so FastAPI runs them in its thread pool and a slow swap never
blocks the event loop. Expected errors become their HTTP status with `{"detail": message}`;
request bodies that do not validate get FastAPI's 422; anything unexpected is logged and
answered with a 500 whose message carries no traceback. No message carries a server path
either (`guard.scrub`: file names only; the full message goes to the server log).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from ..errors import FaceSwapLabError
from . import auth, guard
from . import handlers as h
from . import models as m

log = logging.getLogger("faceswaplab")

PREFIX = "/faceswaplab/v1"


def _roots(ctx: h.ApiContext) -> list[str]:
    try:
        engine = ctx.engine()
    except Exception:  # the engine itself failed: the generic rule still hides paths
        engine = None
    try:
        folder = ctx.checkpoints_dir()
    except Exception:
        folder = None
    return guard.server_roots(engine, folder)


def _guard(fn: Callable[..., Any], *args: Any) -> Any:
    from fastapi import HTTPException

    ctx = args[-1]
    try:
        if ctx.no_downloads:
            from ..models.first_run import no_downloads

            with no_downloads(ctx.no_downloads):
                return fn(*args)
        return fn(*args)
    except FaceSwapLabError as e:
        shown = guard.scrub(e.message, _roots(ctx))
        if shown != e.message:
            log.warning("FaceSwapLab API (%s): %s", e.http_status, e.message)  # the paths stay in the server log
        raise HTTPException(status_code=e.http_status, detail=shown) from None
    except HTTPException:
        raise
    except Exception as e:  # a bug: say so without a traceback (or a path) in the response
        log.exception("FaceSwapLab API: internal error")
        detail = guard.scrub(f"internal error: {type(e).__name__}: {e}", _roots(ctx))
        raise HTTPException(status_code=500, detail=detail) from None


_ERRORS = {
    400: {"description": "bad input: the message names the field and what it takes"},
    401: {"description": "missing or wrong HTTP Basic credentials (when the server has --auth)"},
    413: {"description": "the request body is larger than the server's --max-request-mb"},
    422: {"description": "no face (swap), or a body that does not match the schema"},
    451: {"description": "blocked by the content filter"},
    503: {"description": "a model file is missing or cannot be used, or the server is busy (Retry-After)"},
}


def register(app: Any, ctx: h.ApiContext, prefix: str = PREFIX, credentials: Mapping[str, str] | None = None) -> None:
    """Mount the routes on `app`. With `credentials` ({user: password}), every route needs
    HTTP Basic auth (a router attached to a host app inherits none of the host's own)."""
    from fastapi import APIRouter, Depends

    deps = [Depends(auth.dependency(credentials))] if credentials else []
    router = APIRouter(prefix=prefix, tags=["FaceSwapLab"], dependencies=deps)

    @router.get("/version", summary="version, API level and the named fields of a unit")
    def version() -> dict:
        return h.version()

    @router.get("/models", summary="the names each model field takes", responses=_ERRORS)
    def models() -> dict:
        return _guard(h.models, ctx)

    @router.post("/swap", response_model=m.SwapResponse, summary="swap faces in one image", responses=_ERRORS)
    def swap(req: m.SwapRequest) -> dict:
        return _guard(h.swap, req, ctx)

    @router.post("/build", summary="build a face checkpoint from photos of one person", responses=_ERRORS)
    def build(req: m.BuildRequest) -> dict:
        return _guard(h.build, req, ctx)

    @router.get("/checkpoints", summary="the face checkpoints (validated as loading validates)", responses=_ERRORS)
    def checkpoints() -> dict:
        return _guard(h.checkpoints, ctx)

    @router.post("/compare", summary="similarity of two faces (images or checkpoints)", responses=_ERRORS)
    def compare(req: m.CompareRequest) -> dict:
        return _guard(h.compare, req, ctx)

    @router.post("/extract", summary="crop the faces of an image", responses=_ERRORS)
    def extract(req: m.ExtractRequest) -> dict:
        return _guard(h.extract, req, ctx)

    @router.post("/detect", summary="detect faces (boxes, scores, gender, age)", responses=_ERRORS)
    def detect(req: m.DetectRequest) -> dict:
        return _guard(h.detect, req, ctx)

    app.include_router(router)
