"""`python -m faceswaplab serve` in-process: the start-up checks (auth on a network address,
flags), the ASGI gate (401 before the body is read, 413 by Content-Length and by the bytes
actually read), the concurrency limiter (503 + Retry-After when the queue is full) and the
OpenAPI docs (every route, with examples)."""

from __future__ import annotations

import asyncio
import base64
import io

import numpy as np
import pytest
from PIL import Image

from faceswaplab.cli import main
from tests import fakemodels as fm

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

V1 = "/faceswaplab/v1"


def b64_of(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def ctx(models_dir, tmp_path_factory):
    from faceswaplab.api.handlers import ApiContext
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    faces = tmp_path_factory.mktemp("serve-faces")
    return ApiContext(engine=lambda: engine, checkpoints_dir=lambda: faces)


def client_for(app):
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False)


# --- start-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_network_address_without_auth_refuses_to_start(host, capfd):
    code = main(["serve", "--host", host])
    _, err = capfd.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and f"refusing to serve on {host} without auth" in err and "--allow-no-auth" in err


def test_bad_flags_are_one_line(tmp_path, capfd):
    for args, phrase in (
        (["--port", "0"], "--port must be from 1 to 65535"),
        (["--max-concurrent", "0"], "--max-concurrent must be 1 or more"),
        (["--max-request-mb", "0"], "--max-request-mb must be above 0"),
        (["--auth", "nocolon"], "expected USER:PASSWORD"),
        (["--auth-file", str(tmp_path / "missing.txt")], "cannot read it"),
    ):
        assert main(["serve", *args]) == 2
        assert phrase in capfd.readouterr()[1]
    empty = tmp_path / "users.txt"
    empty.write_text("# nobody\n")
    assert main(["serve", "--auth-file", str(empty)]) == 2
    assert "no USER:PASS line" in capfd.readouterr()[1]


def test_check_args_reads_the_auth_file_and_accepts_loopback(tmp_path):
    from faceswaplab.cli import build_parser
    from faceswaplab.cli.serve_cmd import check_args, is_loopback

    users = tmp_path / "users.txt"
    users.write_text("# users\nalice:s3cret:x\nbob:hunter2\n")
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--auth-file", str(users), "--max-concurrent", "3"])
    creds, concurrent, queue = check_args(args)
    assert creds == {"alice": "s3cret:x", "bob": "hunter2"} and (concurrent, queue) == (3, 6)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("10.0.0.1")
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--allow-no-auth"])
    assert check_args(args)[0] == {}


# --- the gate ---------------------------------------------------------------------------------


def test_auth_is_checked_before_the_body(ctx):
    from faceswaplab.api.server import build_app

    c = client_for(build_app(ctx, credentials={"alice": "s3cret"}, max_request_mb=1))
    for method, path in (("GET", f"{V1}/version"), ("POST", f"{V1}/swap"), ("GET", "/docs"), ("GET", "/openapi.json")):
        r = c.request(method, path, json={})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Basic", path
        assert c.request(method, path, json={}, headers=basic("alice", "wrong")).status_code == 401
    r = c.post(f"{V1}/swap", content=b"x" * (3 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 401, "no credentials: refused before a large body is looked at"
    assert c.get(f"{V1}/version", headers=basic("alice", "s3cret")).json()["api"] == 1


def test_body_over_the_limit_is_413_by_length_and_by_bytes_read(ctx, monkeypatch):
    from faceswaplab.api import handlers
    from faceswaplab.api.server import build_app

    decoded = []
    monkeypatch.setattr(handlers, "_image", lambda *a: decoded.append(a) or (_ for _ in ()).throw(AssertionError))
    c = client_for(build_app(ctx, max_request_mb=1))
    big = b'{"image": "' + b"A" * (2 << 20) + b'", "units": []}'
    r = c.post(f"{V1}/swap", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than 1 MB" in r.json()["detail"]

    def chunks():  # no Content-Length: the gate counts what it reads
        for _ in range(40):
            yield b"A" * 65536

    r = c.post(f"{V1}/swap", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert decoded == [], "nothing was decoded"
    monkeypatch.undo()
    small = {"image": b64_of(fm.make_face_image(size=(64, 64), faces=[], seed=1)), "units": [{"source_images": []}]}
    r = c.post(f"{V1}/swap", json=small)
    assert r.status_code == 200 and r.json()["report"]["swapped"] == 0, "a body within the limit reaches the handlers"


def test_limiter_answers_503_with_retry_after_when_the_queue_is_full():
    from faceswaplab.api.server import Limiter

    release = asyncio.Event()
    started = []

    async def slow_app(scope, receive, send):
        started.append(scope["path"])
        if scope["method"] == "POST":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limiter = Limiter(slow_app, max_concurrent=1, max_queue=1, paths=lambda s: s["method"] == "POST")

    async def call(path, method="POST"):
        sent = []

        async def send(msg):
            sent.append(msg)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        await limiter({"type": "http", "method": method, "path": path, "headers": []}, receive, send)
        return sent[0]["status"], dict(sent[0].get("headers") or [])

    async def scenario():
        first = asyncio.create_task(call("/a"))
        second = asyncio.create_task(call("/b"))
        await asyncio.sleep(0.05)
        assert started == ["/a"], "one at a time; the second waits"
        status, headers = await call("/c")  # running 1 + waiting 1: full
        assert status == 503 and headers[b"retry-after"] == b"2"
        assert (await asyncio.wait_for(call("/version", method="GET"), 1))[0] == 200, "reads are not queued"
        release.set()
        assert (await first)[0] == 200 and (await second)[0] == 200
        assert limiter.admitted == 0 and started == ["/a", "/version", "/b"]
        assert (await call("/d"))[0] == 200, "free again after the burst"

    asyncio.run(scenario())


# --- docs -------------------------------------------------------------------------------------


def test_docs_list_every_route_with_examples(ctx):
    from faceswaplab.api.server import build_app

    c = client_for(build_app(ctx))
    assert c.get("/docs").status_code == 200
    schema = c.get("/openapi.json").json()
    paths = schema["paths"]
    for route in ("version", "models", "swap", "build", "checkpoints", "compare", "extract", "detect"):
        assert f"{V1}/{route}" in paths, route
    for op in (op for ops in paths.values() for op in ops.values()):
        assert op.get("summary"), op
    models = schema["components"]["schemas"]
    for name in ("SwapRequest", "BuildRequest", "CompareRequest", "ExtractRequest", "DetectRequest"):
        assert models[name].get("examples") or models[name].get("example"), name
    assert "names" in schema["info"]["description"] or "name" in schema["info"]["description"]
