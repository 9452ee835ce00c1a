"""`models download` against a local HTTP server on 127.0.0.1 (nothing else is contacted):
a good file lands verified; a corrupt or cut-off transfer fails with nothing left behind;
an existing good file is never lost; zip archives are extracted safely."""

from __future__ import annotations

import hashlib
import io
import random
import sys
import threading
import urllib.request
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a bare checkout without an installed package
    sys.path.insert(0, str(REPO))

from faceswaplab.errors import DownloadError, OptionsError  # noqa: E402
from faceswaplab.models import download as dl  # noqa: E402
from faceswaplab.models import digests as digests_mod, store as store_mod  # noqa: E402
from faceswaplab.models.registry import ArchiveSpec, spec_for  # noqa: E402
from faceswaplab.models.store import CACHE_NAME, CORRUPT, VERIFIED, ModelStore  # noqa: E402

F = TensorProto.FLOAT


def swapper_bytes(bias: float = 0.0, doc: str = "") -> bytes:
    """A tiny ONNX graph with the inswapper signature (bias/doc make different-hash variants)."""
    b = numpy_helper.from_array(np.array([bias], np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Add", ["target", "b"], ["output"])],
        "swapper",
        [helper.make_tensor_value_info("target", F, [1, 3, 128, 128]), helper.make_tensor_value_info("source", F, [1, 512])],
        [helper.make_tensor_value_info("output", F, [1, 3, 128, 128])],
        [b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], doc_string=doc)
    model.ir_version = 8
    return model.SerializeToString()


def detector_bytes() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input.1"], [f"o{i}"]) for i in range(9)],
        "det",
        [helper.make_tensor_value_info("input.1", F, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info(f"o{i}", F, None) for i in range(9)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


GOOD = swapper_bytes(0.0)
OTHER = swapper_bytes(1.0, doc="a re-export")  # right signature, another hash and size


class Server:
    """Routes: path -> (body, mode). mode 'ok' sends it whole; 'cut' announces more bytes
    than it sends, then closes; 'nolen' sends no Content-Length; 404 for anything else."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                requests.append(self.path)
                if self.path not in routes:
                    self.send_error(404)
                    return
                body, mode = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if mode == "cut":
                    self.send_header("Content-Length", str(len(body) + 4096))
                elif mode == "ok":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if mode != "cut" else body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes, mode: str = "ok") -> str:
        self.routes[path] = (body, mode)
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def opener():
    # No proxies: the only host ever contacted is 127.0.0.1, whatever the environment says.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch):
    monkeypatch.setattr(digests_mod, "_CACHES", {})
    monkeypatch.setattr(store_mod, "_WARNED", set())


def leftovers(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != CACHE_NAME)


def swapper_spec(url: str, data: bytes | None = GOOD, **changes):
    base = spec_for("inswapper_128.onnx")
    fields = {"url": url, "sha256": sha(data) if data is not None else None, "size": len(data) if data is not None else None}
    fields.update(changes)
    return replace(base, **fields)


# --- (a) a good file ---------------------------------------------------------------------------


def test_good_file_lands_verified(tmp_path, server, opener, monkeypatch):
    models = tmp_path / "models"
    store = ModelStore(models, specs=[swapper_spec(server.add("/good.onnx", GOOD))])
    results = dl.download_missing(store, progress=False, opener=opener)
    assert [(r.name, r.state) for r in results] == [("inswapper_128.onnx", "downloaded")]
    assert results[0].sha256 == sha(GOOD) and results[0].size == len(GOOD)
    dest = models / "inswapper_128.onnx"
    assert dest.read_bytes() == GOOD
    assert leftovers(models) == ["inswapper_128.onnx"]
    # the digest was recorded: the next status does not re-read 500 MB
    monkeypatch.setattr(store_mod, "sha256_file", lambda p: pytest.fail("re-hashed a file just downloaded"))
    assert store.status("inswapper_128.onnx").state == VERIFIED
    # a second run fetches nothing
    n = len(server.requests)
    assert [r.state for r in dl.download_missing(store, progress=False, opener=opener)] == ["present"]
    assert len(server.requests) == n


def test_progress_bar_goes_to_stderr(tmp_path, server, opener, capsys):
    dl.download_file(server.add("/p.onnx", GOOD), tmp_path / "p.onnx", sha256=sha(GOOD), progress=True, opener=opener)
    captured = capsys.readouterr()
    assert "p.onnx" in captured.err and captured.out == ""


def test_good_file_without_length_or_known_hash(tmp_path, server, opener):
    digest = dl.download_file(server.add("/n.onnx", GOOD, "nolen"), tmp_path / "n.onnx", progress=False, opener=opener)
    assert digest == sha(GOOD) and (tmp_path / "n.onnx").read_bytes() == GOOD


# --- (b) a corrupt file ------------------------------------------------------------------------


def test_corrupt_download_leaves_nothing(tmp_path, server, opener):
    models = tmp_path / "models"
    bad = random.Random(3).randbytes(len(GOOD))
    store = ModelStore(models, specs=[swapper_spec(server.add("/bad.onnx", bad), GOOD, size=None)])
    results = dl.download_missing(store, progress=False, opener=opener)
    assert results[0].state == "failed" and not results[0].ok
    assert "checksum mismatch" in results[0].message
    assert sha(GOOD) in results[0].message and sha(bad) in results[0].message
    assert leftovers(models) == []
    with pytest.raises(DownloadError, match="checksum mismatch"):
        dl.raise_for_failures(results)


def test_download_file_raises_on_checksum_mismatch(tmp_path, server, opener):
    with pytest.raises(DownloadError) as ei:
        dl.download_file(server.add("/o.onnx", OTHER), tmp_path / "x.onnx", sha256=sha(GOOD), progress=False, opener=opener)
    assert f"expected sha256 {sha(GOOD)}, got {sha(OTHER)}" in str(ei.value)
    assert ei.value.exit_code == 3
    assert leftovers(tmp_path) == []


def test_wrong_announced_size_is_refused_before_download(tmp_path, server, opener):
    with pytest.raises(DownloadError, match="announces"):
        dl.download_file(server.add("/s.onnx", OTHER), tmp_path / "s.onnx", size=len(OTHER) + 1, progress=False, opener=opener)
    assert leftovers(tmp_path) == []


# --- (c) a cut-off file ------------------------------------------------------------------------


def test_cut_off_download_leaves_nothing(tmp_path, server, opener):
    models = tmp_path / "models" / "deeper"  # folders created for it are removed again
    url = server.add("/cut.onnx", GOOD, "cut")
    with pytest.raises(DownloadError, match="cut off"):
        dl.download_file(url, models / "inswapper_128.onnx", progress=False, opener=opener)
    assert not (tmp_path / "models").exists()
    store = ModelStore(tmp_path / "m2", specs=[swapper_spec(url, GOOD, size=None)])
    res = dl.download_missing(store, progress=False, opener=opener)
    assert res[0].state == "failed" and "cut off" in res[0].message
    assert leftovers(tmp_path / "m2") == []


def test_short_body_without_length_fails_on_published_size(tmp_path, server, opener):
    url = server.add("/short.onnx", GOOD[:100], "nolen")
    with pytest.raises(DownloadError, match="published file has"):
        dl.download_file(url, tmp_path / "s.onnx", size=len(GOOD), progress=False, opener=opener)
    assert leftovers(tmp_path) == []


def test_http_error_and_unreachable(tmp_path, server, opener):
    with pytest.raises(DownloadError, match="HTTP 404"):
        dl.download_file(server.base + "/missing.onnx", tmp_path / "a.onnx", progress=False, opener=opener)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    with pytest.raises(DownloadError, match="cannot reach"):
        dl.download_file(f"http://127.0.0.1:{port}/x", tmp_path / "b.onnx", progress=False, opener=opener, timeout=5)
    assert leftovers(tmp_path) == []


def test_only_http_urls(tmp_path):
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "data:,hello"):
        with pytest.raises(DownloadError, match="only http"):
            dl.download_file(url, tmp_path / "x", progress=False)
    assert leftovers(tmp_path) == []


# --- (d) an existing good file is never lost ------------------------------------------------------


def test_failed_redownload_keeps_existing_file(tmp_path, server, opener):
    dest = tmp_path / "inswapper_128.onnx"
    dest.write_bytes(GOOD)
    for path, body, mode in (("/c1", OTHER, "ok"), ("/c2", GOOD, "cut")):
        with pytest.raises(DownloadError):
            dl.download_file(server.add(path, body, mode), dest, sha256=sha(GOOD), progress=False, opener=opener)
        assert dest.read_bytes() == GOOD
        assert leftovers(tmp_path) == ["inswapper_128.onnx"]


def test_usable_files_are_not_fetched_and_corrupt_ones_replaced_only_on_success(tmp_path, server, opener):
    models = tmp_path / "models"
    models.mkdir()
    (models / "inswapper_128.onnx").write_bytes(OTHER)  # custom: usable, left alone
    store = ModelStore(models, specs=[swapper_spec(server.add("/g", GOOD))])
    res = dl.download_missing(store, progress=False, opener=opener)
    assert res[0].state == "present" and server.requests == []
    assert (models / "inswapper_128.onnx").read_bytes() == OTHER

    junk = random.Random(5).randbytes(999)
    (models / "inswapper_128.onnx").write_bytes(junk)  # corrupt: re-fetched...
    store = ModelStore(models, specs=[swapper_spec(server.add("/cut", GOOD, "cut"))])
    assert store.status("inswapper_128.onnx").state == CORRUPT
    res = dl.download_missing(store, progress=False, opener=opener)
    assert res[0].state == "failed"
    assert (models / "inswapper_128.onnx").read_bytes() == junk  # ...but only replaced by a good copy
    store = ModelStore(models, specs=[swapper_spec(server.add("/g2", GOOD))])
    assert dl.download_missing(store, progress=False, opener=opener)[0].state == "downloaded"
    assert (models / "inswapper_128.onnx").read_bytes() == GOOD
    assert store.status("inswapper_128.onnx").state == VERIFIED
    assert leftovers(models) == ["inswapper_128.onnx"]


# --- which files --------------------------------------------------------------------------------


def test_optional_files_only_when_named(tmp_path, server, opener):
    fp16 = replace(spec_for("inswapper_128_fp16.onnx"), url=server.add("/fp16", OTHER), sha256=sha(OTHER), size=len(OTHER))
    store = ModelStore(tmp_path, specs=[swapper_spec(server.add("/g", GOOD)), fp16])
    assert [r.name for r in dl.download_missing(store, progress=False, opener=opener)] == ["inswapper_128.onnx"]
    assert not (tmp_path / "inswapper_128_fp16.onnx").exists()
    res = dl.download_missing(store, ["inswapper_128_fp16.onnx"], progress=False, opener=opener)
    assert [(r.name, r.state) for r in res] == [("inswapper_128_fp16.onnx", "downloaded")]
    with pytest.raises(OptionsError, match="unknown model"):
        dl.download_missing(store, ["nope.onnx"], progress=False, opener=opener)


# --- archives -----------------------------------------------------------------------------------


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_archive_members_extracted_safely_with_per_file_fallback(tmp_path, server, opener):
    det, rec_good = detector_bytes(), b"recognition-stand-in"
    archive = make_zip({
        "buffalo_l/det_10g.onnx": det,
        "w600k_r50.onnx": b"tampered",  # wrong hash: refused, then fetched from its own URL
        "../../evil.onnx": b"evil",
        "/abs/evil2.onnx": b"evil",
        "buffalo_l/config.yaml": b"x",
    })
    arch = ArchiveSpec("buffalo_l.zip", server.add("/buffalo_l.zip", archive), sha(archive), len(archive), "buffalo_l")
    det_spec = replace(spec_for("buffalo_l/det_10g.onnx"), url=server.base + "/no-such", sha256=sha(det), size=len(det))
    rec_spec = replace(
        spec_for("buffalo_l/w600k_r50.onnx"), url=server.add("/w600k", rec_good), sha256=sha(rec_good), size=None
    )
    gone_spec = replace(spec_for("buffalo_l/genderage.onnx"), url=None, sha256="1" * 64, size=None)
    models = tmp_path / "models"
    store = ModelStore(models, specs=[det_spec, rec_spec, gone_spec], archives=[arch])
    res = {r.name: r for r in dl.download_missing(store, progress=False, opener=opener)}

    assert res["buffalo_l/det_10g.onnx"].state == "downloaded"
    assert "buffalo_l.zip" in res["buffalo_l/det_10g.onnx"].message
    assert res["buffalo_l/w600k_r50.onnx"].state == "downloaded"
    assert res["buffalo_l/genderage.onnx"].state == "failed"
    assert "not found in the archive" in res["buffalo_l/genderage.onnx"].message
    assert server.requests.count("/buffalo_l.zip") == 1 and "/no-such" not in server.requests
    assert (models / "buffalo_l" / "det_10g.onnx").read_bytes() == det
    assert (models / "buffalo_l" / "w600k_r50.onnx").read_bytes() == rec_good
    assert leftovers(tmp_path) == ["models", "models/buffalo_l", "models/buffalo_l/det_10g.onnx", "models/buffalo_l/w600k_r50.onnx"]
    assert store.status("buffalo_l/det_10g.onnx").state == VERIFIED


def test_corrupt_archive_falls_back_and_leaves_nothing(tmp_path, server, opener):
    det = detector_bytes()
    archive = make_zip({"det_10g.onnx": det})
    arch = ArchiveSpec("buffalo_l.zip", server.add("/b.zip", archive, "cut"), None, None, "buffalo_l")
    det_spec = replace(spec_for("buffalo_l/det_10g.onnx"), url=server.add("/det", det, "cut"), sha256=sha(det), size=None)
    models = tmp_path / "models"
    res = dl.download_missing(ModelStore(models, specs=[det_spec], archives=[arch]), progress=False, opener=opener)
    assert res[0].state == "failed" and res[0].message.count("cut off") == 2
    assert leftovers(tmp_path) == []
