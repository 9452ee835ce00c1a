"""A real `python -m faceswaplab serve` on 127.0.0.1 under load: 32 concurrent swaps are each
byte-identical to the same call made alone, a burst past the queue gets 503 + Retry-After
(and nothing else goes wrong), auth holds, a large body is 413, and the server's RSS comes
back near its baseline after the burst. Bounded to about a minute on two cores."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import fakemodels as fm

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[1]
V1 = "/faceswaplab/v1"
AUTH = ("load", "p4ss")


def b64_of(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# No proxies: the only host ever contacted is 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(port: int, path: str, body: bytes | None = None, auth=AUTH, timeout: float = 60) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST" if body is not None else "GET")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the server's RSS from /proc")
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"}
    cmd = [sys.executable, "-m", "faceswaplab", "serve", "--port", str(port), "--models-dir", str(models_dir),
           "--auth", f"{AUTH[0]}:{AUTH[1]}", "--max-concurrent", "2", "--max-queue", "30", "--max-request-mb", "8",
           "--threads", "1"]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=str(ROOT), env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"serve exited {proc.returncode}: {log.read_text()}")
            try:
                if request(port, f"{V1}/version", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail(f"serve did not start: {log.read_text()}")
        proc.port = port  # type: ignore[attr-defined]
        proc.log = log  # type: ignore[attr-defined]
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


TGT = b64_of(fm.make_face_image(size=(320, 320), faces=[(90, 100, 120, fm.FEMALE, 3)], seed=2))
SOURCES = [b64_of(fm.make_face_image(size=(256, 256), faces=[(60, 60, 130, fm.MALE, 7 + k)], seed=11 + k)) for k in range(8)]


def swap_body(k: int) -> bytes:
    import json

    return json.dumps({"image": TGT, "units": [{"source_images": [SOURCES[k % 8]]}]}).encode()


def test_serve_under_load(server):
    import json

    port = server.port
    t0 = time.monotonic()
    # auth and the body limit, on the real server
    assert request(port, f"{V1}/version", auth=None)[0] == 401
    status, _, body = request(port, f"{V1}/swap", b"{" + b" " * (9 << 20) + b"}")
    assert status == 413 and b"larger than 8 MB" in body

    alone = {}
    for k in range(8):
        status, _, body = request(port, f"{V1}/swap", swap_body(k))
        assert status == 200, body[:300]
        alone[k] = json.loads(body)["images"][0]
    assert len(set(alone.values())) == 8, "eight sources, eight different results"
    baseline = rss_mb(server.pid)

    # 32 at once: 2 run, 30 wait; every one answers and equals its single call byte for byte
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda k: request(port, f"{V1}/swap", swap_body(k)), range(32)))
    for k, (status, _, body) in enumerate(results):
        assert status == 200, (k, status, body[:300])
        assert json.loads(body)["images"][0] == alone[k % 8], f"call {k} differs from the same call made alone"

    # past the queue: some get 503 with Retry-After at once; the others still succeed
    with ThreadPoolExecutor(max_workers=64) as pool:
        burst = list(pool.map(lambda k: request(port, f"{V1}/swap", swap_body(k)), range(64)))
    statuses = [s for s, _, _ in burst]
    assert set(statuses) <= {200, 503}, statuses
    busy = [(h, b) for s, h, b in burst if s == 503]
    assert busy, "64 requests against 2 running + 30 waiting: some must be turned away"
    assert all(h.get("retry-after") == "2" and b"server busy" in b for h, b in busy)
    for k, (s, _, b) in enumerate(burst):
        if s == 200:
            assert json.loads(b)["images"][0] == alone[k % 8]

    # memory back near the baseline once the burst is over
    time.sleep(1.0)
    after = rss_mb(server.pid)
    assert after < baseline * 1.5 + 64, f"RSS {after:.0f} MB after the burst, {baseline:.0f} MB before"
    assert request(port, f"{V1}/version")[0] == 200, "still serving"
    log = server.log.read_text()
    assert "Traceback" not in log, log[-2000:]
    assert time.monotonic() - t0 < 90
    print(f"load: baseline {baseline:.0f} MB, after {after:.0f} MB, {len(busy)} of 64 turned away")
