"""The HTTP API (/faceswaplab/v1/...) through FastAPI's TestClient: every route, named unit
fields, unknown fields rejected by name, malformed requests answered 4xx without a
traceback, and eight different concurrent swaps each equal to the same call made alone."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from tests import fakemodels as fm

fastapi = pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def b64_of(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def decode(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


@pytest.fixture(scope="module")
def client(tmp_path_factory, models_dir):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from faceswaplab.api import routes
    from faceswaplab.api.handlers import ApiContext
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    ck_dir = tmp_path_factory.mktemp("faces")
    app = FastAPI()
    routes.register(app, ApiContext(engine=lambda: engine, checkpoints_dir=lambda: ck_dir))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


SRC = [fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7 + k)], seed=11 + k) for k in range(8)]
TGT = fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)


def test_version(client):
    r = client.get("/faceswaplab/v1/version")
    assert r.status_code == 200
    d = r.json()
    assert d["api"] == 1 and "source_images" in d["unit_fields"] and "checkpoint" in d["unit_fields"]


def test_swap_named_fields(client):
    body = {"image": b64_of(TGT), "units": [{"source_images": [b64_of(SRC[0])], "faces": "all", "min_similarity": 0.0}]}
    r = client.post("/faceswaplab/v1/swap", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["report"]["swapped"] == 1
    out = decode(d["images"][0])
    assert out.shape == TGT.shape and np.abs(out.astype(int) - TGT.astype(int)).mean() > 0.5


def test_unknown_unit_field_is_named(client):
    body = {"image": b64_of(TGT), "units": [{"source_images": [b64_of(SRC[0])], "facez": "all"}]}
    r = client.post("/faceswaplab/v1/swap", json=body)
    assert r.status_code == 422
    assert "facez" in r.text


@pytest.mark.parametrize(
    "body, status",
    [
        ({"image": "not base64 at all!!", "units": [{"checkpoint": "x"}]}, 400),
        ({"image": base64.b64encode(b"hello").decode(), "units": [{"checkpoint": "x"}]}, 400),
        ({"units": []}, 422),
        ({"image": b64_of(TGT), "units": [{"faces": "a,b", "source_images": [b64_of(SRC[0])]}]}, 400),
        ({"image": b64_of(TGT), "units": [{"sort": "sideways", "source_images": [b64_of(SRC[0])]}]}, 400),
        ({"image": b64_of(TGT), "units": []}, 400),
        ({"image": b64_of(TGT), "units": [{"checkpoint": "nobody"}]}, 400),
        ({"image": b64_of(TGT), "units": [{"source_images": [b64_of(SRC[0])]}], "postprocessing": {"upscaler": "x", "scale": 2}}, 400),
    ],
)
def test_malformed_requests(client, body, status):
    r = client.post("/faceswaplab/v1/swap", json=body)
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text
    assert r.json()["detail"]


def test_postprocessing_works_outside_the_webui(client):
    """The API's `postprocessing` (today's field names) is the pipeline's step: it runs here
    through the engine's upscalers, no web-ui needed."""
    body = {
        "image": b64_of(TGT), "units": [{"source_images": [b64_of(SRC[0])]}],
        "postprocessing": {"upscaler": "lanczos", "scale": 1.5, "upscaler_visibility": 1.0, "restorer": None},
    }  # fmt: skip
    r = client.post("/faceswaplab/v1/swap", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert decode(d["images"][0]).shape == (TGT.shape[0] * 3 // 2, TGT.shape[1] * 3 // 2, 3)
    assert d["report"]["postprocessing"] == ["post: upscaled x1.5 with lanczos to 960x960"]
    assert "post: upscaled" in d["report"]["summary"]
    r = client.post("/faceswaplab/v1/swap", json={**body, "postprocessing": {"scale": 2, "colour": 1}})
    assert r.status_code == 422 and "colour" in r.text
    r = client.post("/faceswaplab/v1/swap", json={**body, "postprocessing": {"upscaler": "lanczos", "scale": 9}})
    assert r.status_code == 400 and "postprocessing.scale" in r.json()["detail"]


def test_no_face_in_source_is_reported(client):
    body = {"image": b64_of(TGT), "units": [{"source_images": [b64_of(fm.make_face_image(faces=[], seed=4))]}]}
    r = client.post("/faceswaplab/v1/swap", json=body)
    assert r.status_code == 200
    d = r.json()
    assert d["report"]["swapped"] == 0 and "no face" in d["report"]["summary"]


def test_concurrent_swaps_equal_sequential(client):
    def call(k: int) -> str:
        body = {"image": b64_of(TGT), "units": [{"source_images": [b64_of(SRC[k])]}]}
        r = client.post("/faceswaplab/v1/swap", json=body)
        assert r.status_code == 200, r.text
        return r.json()["images"][0]

    alone = [call(k) for k in range(8)]
    assert len({a for a in alone}) == 8, "eight different sources give eight different results"
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(call, range(8)))
    for k in range(8):
        assert np.array_equal(decode(alone[k]), decode(together[k])), f"call {k} differs under concurrency"


def test_build_list_compare_extract_detect(client):
    photos = [b64_of(fm.make_face_image(faces=[(200, 200, 180, fm.MALE, 7)], seed=s)) for s in (1, 2)]
    r = client.post("/faceswaplab/v1/build", json={"images": photos, "name": "bob"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "bob" and r.json()["samples"] == 2
    r = client.post("/faceswaplab/v1/build", json={"images": photos})
    assert r.status_code == 200 and r.json()["checkpoint"]
    r = client.get("/faceswaplab/v1/checkpoints")
    assert r.status_code == 200
    assert [c["name"] for c in r.json()["checkpoints"]] == ["bob"]
    assert "path" not in r.json()["checkpoints"][0]
    r = client.post("/faceswaplab/v1/swap", json={"image": b64_of(TGT), "units": [{"checkpoint": "bob"}]})
    assert r.status_code == 200 and r.json()["report"]["swapped"] == 1
    r = client.post("/faceswaplab/v1/compare", json={"image_a": photos[0], "checkpoint_b": "bob"})
    assert r.status_code == 200 and r.json()["similarity"] > 0.9
    r = client.post("/faceswaplab/v1/compare", json={"image_a": photos[0]})
    assert r.status_code == 400
    two = b64_of(fm.make_face_image(size=(640, 400), faces=[(40, 100, 160, fm.FEMALE, 1), (400, 100, 160, fm.MALE, 2)], seed=9))
    r = client.post("/faceswaplab/v1/extract", json={"image": two, "aligned_size": 128})
    assert r.status_code == 200
    faces = r.json()["faces"]
    assert len(faces) == 2 and decode(faces[0]["image"]).shape == (128, 128, 3)
    r = client.post("/faceswaplab/v1/extract", json={"image": two, "min_size": 10000})
    assert r.status_code == 200 and r.json()["faces"] == [], "min_size (the extract request's own name) skips faces"
    r = client.post("/faceswaplab/v1/detect", json={"image": two})
    assert r.status_code == 200
    d = r.json()["faces"]
    assert len(d) == 2 and d[0]["bbox"][0] < d[1]["bbox"][0] and {"det_score", "gender", "age"} <= set(d[0])
    r = client.post("/faceswaplab/v1/detect", json={"image": two, "extra": 1})
    assert r.status_code == 422 and "extra" in r.text
