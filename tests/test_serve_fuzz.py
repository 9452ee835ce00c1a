"""A bounded property-based fuzz of the HTTP API (hypothesis): generated bodies (known and
unknown fields, wrong types, hostile strings: paths, huge and negative numbers, index lists)
and generated images (valid, truncated, not images, tiny, odd modes) against every route of
the served app (the gate included). Whatever comes in, the answer is never a 500 and never
carries a traceback or a server path. Bounded to about 30 seconds on two cores."""

from __future__ import annotations

import base64
import io
import json
import os
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests import fakemodels as fm  # noqa: E402

V1 = "/faceswaplab/v1"
BUDGET_S = 30.0  # the whole module's fuzzing; each route gets its share
ROUTES = ("swap", "build", "compare", "extract", "detect", "checkpoints", "models")


def _png(rgb: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


FACE = _png(fm.make_face_image(size=(192, 192), faces=[(40, 40, 110, fm.MALE, 7)], seed=3))
IMAGES = [
    FACE,
    _png(fm.make_face_image(size=(96, 96), faces=[], seed=1), "JPEG"),
    FACE[: len(FACE) // 2],  # truncated
    b"",  # empty
    b"not an image at all",
    b"GIF89a" + b"\0" * 20,
    _png(np.zeros((1, 1, 3), np.uint8)),
    _png(np.zeros((3, 4000, 3), np.uint8)),  # extreme aspect ratio
]

hostile_text = st.sampled_from([
    "/etc/passwd", "../../../../etc/shadow", "..", "~", "C:\\Windows\\win.ini", "a/b", "x\x00y", "webui:../x",
    "all", "none", "None", "", " ", "0,1,2", "-1", "9" * 40, "lanczos", "inswapper_128", "%s%s%n", "ü" * 50,
])  # fmt: skip
image_b64 = st.sampled_from(IMAGES).map(lambda b: base64.b64encode(b).decode()) | st.sampled_from(
    ["", "data:image/png;base64,", "!!!notbase64!!!", "data:image/png;base64," + base64.b64encode(FACE).decode()]
)
numbers = st.integers(min_value=-(10**12), max_value=10**12) | st.floats(allow_nan=False, allow_infinity=False)
leaf = st.none() | st.booleans() | numbers | hostile_text | st.text(max_size=20) | image_b64
values = st.recursive(leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=3), max_leaves=8)

UNIT_FIELDS = ["enabled", "source_images", "checkpoint", "source_face_index", "swapper", "faces", "sort", "gender",
               "reference_image", "min_face_size", "restorer", "upscale", "parser", "mask_regions", "occluder",
               "boost", "mask_areas", "keep_mouth", "unknown_field"]  # fmt: skip


def fields(names, extra=None):
    strat = {n: values for n in names}
    strat.update(extra or {})
    return st.fixed_dictionaries({}, optional=strat)


unit = fields(UNIT_FIELDS, {
    "source_images": st.lists(image_b64, max_size=2),
    "faces": st.lists(st.integers(-5, 20000), max_size=30) | hostile_text | st.just(list(range(1500))),
    "restorer": hostile_text, "parser": hostile_text, "checkpoint": hostile_text, "swapper": hostile_text,
})  # fmt: skip
BODIES = {
    "swap": fields(["image", "units", "postprocessing", "format", "junk"], {
        "image": image_b64, "units": st.lists(unit, max_size=2),
        "postprocessing": fields(["restorer", "upscaler", "scale"], {"upscaler": hostile_text, "restorer": hostile_text}),
    }),
    "build": fields(["images", "name", "gender", "face_index", "blend_method", "overwrite"],
                    {"images": st.lists(image_b64, max_size=2), "name": hostile_text}),
    "compare": fields(["image_a", "image_b", "checkpoint_a", "checkpoint_b", "index_a", "index_b"],
                      {"image_a": image_b64, "image_b": image_b64, "checkpoint_a": hostile_text}),
    "extract": fields(["image", "aligned_size", "margin", "min_size", "format"], {"image": image_b64}),
    "detect": fields(["image", "attributes"], {"image": image_b64}),
}  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_client(models_dir, tmp_path_factory):
    from fastapi.testclient import TestClient

    from faceswaplab.api.handlers import ApiContext
    from faceswaplab.api.server import build_app
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    faces = tmp_path_factory.mktemp("fuzz-faces")
    app = build_app(ApiContext(engine=lambda: engine, checkpoints_dir=lambda: faces), max_request_mb=4)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.roots = [str(models_dir), str(faces), os.getcwd()]  # type: ignore[attr-defined]
        yield c


def check(client, r) -> None:
    assert r.status_code != 500, r.text[:500]
    assert r.status_code < 600
    text = r.text
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    if r.status_code >= 400:
        for root in client.roots:
            assert root not in text, f"server path {root} in {text[:300]}"
        assert '"input"' not in text, "422s do not echo the request back"
        if r.status_code != 422:  # a 422 may name a (client-sent) field, which may look like anything
            assert "/etc/" not in text and "\\Windows\\" not in text, text[:300]


def fuzz_route(client, route: str, seconds: float) -> int:
    """Run hypothesis on one route until its examples or its time share run out."""
    end = time.monotonic() + seconds
    count = 0

    @settings(max_examples=400, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(body=BODIES[route] | values)
    def run(body):
        nonlocal count
        if time.monotonic() > end:
            return
        count += 1
        r = client.post(f"{V1}/{route}", content=json.dumps(body).encode(), headers={"content-type": "application/json"})
        check(client, r)

    run()
    return count


@pytest.mark.parametrize("route", ["swap", "build", "compare", "extract", "detect"])
def test_fuzz_post_routes(fuzz_client, route):
    n = fuzz_route(fuzz_client, route, BUDGET_S / 6)
    assert n >= 20, f"only {n} examples ran"


def test_fuzz_raw_bodies_and_get_routes(fuzz_client):
    end = time.monotonic() + BUDGET_S / 6

    @settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(raw=st.binary(max_size=300) | st.sampled_from([b"{", b"[]", b"null", b'{"image": 1}', b"\xff\xfe", b"{}" * 1000]),
           route=st.sampled_from(ROUTES), ctype=st.sampled_from(["application/json", "text/plain", ""]))  # fmt: skip
    def run(raw, route, ctype):
        if time.monotonic() > end:
            return
        headers = {"content-type": ctype} if ctype else {}
        check(fuzz_client, fuzz_client.post(f"{V1}/{route}", content=raw, headers=headers))
        check(fuzz_client, fuzz_client.get(f"{V1}/{route}"))

    run()
