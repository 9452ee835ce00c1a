"""The first run gets what it needs (issue 14 section 6), against a server on 127.0.0.1 only:
the first `swap` into an empty models folder fetches the missing files (one line each, checked,
renamed into place) and the second fetches nothing; offline refuses with the command to run
and touches no network; a wrong sha256 leaves nothing behind; `serve` downloads nothing on a
request unless started with --allow-download; a front end's progress callback gets the events.

The session sets FACESWAPLAB_OFFLINE=1 (conftest.py); tests here that download unset it."""

from __future__ import annotations

import contextvars
import functools
import io
import re
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from faceswaplab import engine as engine_mod
from faceswaplab.cli import main
from faceswaplab.errors import DownloadError, ModelMissingError
from faceswaplab.models import first_run
from faceswaplab.models.registry import KNOWN_MODELS, ArchiveSpec
from faceswaplab.models.store import CACHE_NAME, VERIFIED, ModelStore
from tests import fakemodels as fm
from tests.test_models_download import Server, sha

ROOT = Path(__file__).resolve().parents[1]
BUFFALO = ("det_10g.onnx", "w600k_r50.onnx", "genderage.onnx", "2d106det.onnx", "1k3d68.onnx")


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> dict[str, bytes]:
    """The stand-in files by registry name, and the buffalo_l.zip that holds five of them."""
    d = tmp_path_factory.mktemp("pack")
    fm.write_all(d)
    files = {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*.onnx")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in BUFFALO:
            zf.writestr(f"buffalo_l/{name}", files[f"buffalo_l/{name}"])
    files["buffalo_l.zip"] = buf.getvalue()
    return files


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def online(monkeypatch):
    """Downloads allowed, and only ever to 127.0.0.1 (no proxy from the environment)."""
    monkeypatch.delenv(first_run.OFFLINE_ENV, raising=False)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def local_registry(server: Server, pack: dict[str, bytes], bad: dict[str, bytes] | None = None):
    """(specs, archives) like the registry's, with the required files served by `server`
    (their sha256/size those of the stand-ins; `bad` serves other bytes under a name) and
    every optional file without a URL."""
    bad = bad or {}
    specs = []
    for spec in KNOWN_MODELS:
        if spec.required:
            body = bad.get(spec.name, pack[spec.name])
            data = pack[spec.name]
            specs.append(replace(spec, url=server.add("/" + spec.filename, body), sha256=sha(data), size=len(data)))
        else:
            specs.append(replace(spec, url=None))
    z = pack["buffalo_l.zip"]
    archives = [ArchiveSpec("buffalo_l.zip", server.add("/buffalo_l.zip", z), sha(z), len(z), "buffalo_l")]
    return specs, archives


def use_registry(monkeypatch, specs, archives) -> None:
    """Every Engine made from here on (the CLI's included) gets a store over these specs."""
    monkeypatch.setattr(engine_mod, "ModelStore", functools.partial(ModelStore, specs=specs, archives=archives))


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    src, tgt = tmp_path / "face.png", tmp_path / "photo.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)).save(tgt)
    return {"src": src, "tgt": tgt}


def swap(images, models: Path, out: Path, capfd, *extra: str) -> tuple[int, str]:
    rc = main(["swap", "--source", str(images["src"]), "--target", str(images["tgt"]), "--output", str(out),
               "--models-dir", str(models), *extra])  # fmt: skip
    return rc, capfd.readouterr().err


def files_in(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != CACHE_NAME)


def test_first_swap_fetches_what_it_needs_and_the_second_fetches_nothing(
    tmp_path, server, pack, online, images, monkeypatch, capfd
):
    use_registry(monkeypatch, *local_registry(server, pack))
    models = tmp_path / "models"
    rc, err = swap(images, models, tmp_path / "out.png", capfd)
    assert rc == 0, err
    assert (tmp_path / "out.png").is_file()
    # the pack once (all five files from one zip), then the swapper: nothing else, nothing twice
    assert server.requests == ["/buffalo_l.zip", "/inswapper_128.onnx"]
    assert files_in(models) == sorted(["inswapper_128.onnx"] + [f"buffalo_l/{n}" for n in BUFFALO])
    for name in files_in(models):
        assert (models / name).read_bytes() == pack[name], name
    store = ModelStore(models, specs=engine_mod.ModelStore.keywords["specs"])
    assert all(store.status(n).state == VERIFIED for n in files_in(models))
    # one line per transfer: the file, its size, its licence and where it goes
    lines = [ln for ln in err.splitlines() if ln.startswith("Downloading")]
    assert len(lines) == 2, err
    z, s = pack["buffalo_l.zip"], pack["inswapper_128.onnx"]
    assert lines[0].startswith(f"Downloading buffalo_l.zip ({first_run._size_text(len(z))}, holding det_10g.onnx, ")
    assert f"models folder {models / 'buffalo_l'}" in lines[0]
    assert lines[1].startswith(f"Downloading inswapper_128.onnx ({first_run._size_text(len(s))}; ")
    assert f"models folder {models} " in lines[1]
    for ln in lines:
        assert "licence: non-commercial research only (insightface)" in ln and "--offline" in ln
    # the second run finds everything in place
    rc, err = swap(images, models, tmp_path / "out2.png", capfd)
    assert rc == 0, err
    assert server.requests == ["/buffalo_l.zip", "/inswapper_128.onnx"] and "Downloading" not in err


def test_offline_refuses_with_the_command_and_touches_no_network(tmp_path, server, pack, online, images, monkeypatch, capfd):
    use_registry(monkeypatch, *local_registry(server, pack))
    models = tmp_path / "models"
    rc, err = swap(images, models, tmp_path / "out.png", capfd, "--offline")
    assert rc == 3
    assert "3 model files are missing" in err and "models download" in err and str(models) in err
    assert "not downloaded: offline mode is on (--offline)" in err
    monkeypatch.setenv(first_run.OFFLINE_ENV, "1")
    rc, err = swap(images, models, tmp_path / "out.png", capfd)
    assert rc == 3 and "not downloaded: FACESWAPLAB_OFFLINE is set" in err and "models download" in err
    assert server.requests == [] and files_in(models) == [] and not (tmp_path / "out.png").exists()


def test_a_wrong_sha256_leaves_nothing_behind(tmp_path, server, pack, online, images, monkeypatch, capfd):
    good = pack["inswapper_128.onnx"]
    evil = good[:-1] + bytes([good[-1] ^ 1])  # the published size, another sha256
    use_registry(monkeypatch, *local_registry(server, pack, bad={"inswapper_128.onnx": evil}))
    models = tmp_path / "models"
    fm.write_all(models)
    (models / "inswapper_128.onnx").unlink()
    rc, err = swap(images, models, tmp_path / "out.png", capfd)
    assert rc == 3
    msg = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(msg) == 1 and "could not download the model file inswapper_128.onnx on first use" in msg[0]
    assert "checksum mismatch" in msg[0] and "models download" in msg[0]
    assert server.requests == ["/inswapper_128.onnx"]
    assert files_in(models) == sorted(f"buffalo_l/{n}" for n in BUFFALO), "no swapper and no temp file left"


def test_progress_callback_gets_the_events_without_a_path(tmp_path, server, pack, online, capfd):
    specs, archives = local_registry(server, pack)
    models = tmp_path / "models"
    engine = engine_mod.Engine(store=ModelStore(models, specs=specs, archives=archives))
    events: list[first_run.FetchProgress] = []
    with first_run.progress_to(events.append):
        # a new thread does not inherit the context: a worker runs in a copy of it
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(engine.swapper,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert server.requests == ["/inswapper_128.onnx"], "three threads, one download"
    n = len(pack["inswapper_128.onnx"])
    assert events[0].done == 0 and events[0].total == n and events[-1].finished and events[-1].done == n
    assert [e.fraction for e in events][-1] == 1.0
    msg = events[0].message
    assert re.match(r"Downloading inswapper_128\.onnx \([\d.]+ [KM]iB; licence: non-commercial research only", msg)
    assert msg.endswith("into the FaceSwapLab models folder") and str(tmp_path) not in msg
    assert "Downloading" not in capfd.readouterr().err, "the callback replaces the stderr line and bar"


def test_failed_download_is_one_line_with_what_to_do(tmp_path, online):
    spec = replace(next(s for s in KNOWN_MODELS if s.name == "inswapper_128.onnx"), url="http://127.0.0.1:9/x.onnx")
    store = ModelStore(tmp_path / "models", specs=[spec], archives=[])
    engine = engine_mod.Engine(store=store)
    with pytest.raises(DownloadError) as ei:
        engine.swapper()
    text = str(ei.value)
    assert "\n" not in text and ei.value.exit_code == 3
    assert "cannot reach http://127.0.0.1:9/x.onnx" in text and "models download" in text and "--offline" in text
    assert files_in(tmp_path) == []


def test_serve_downloads_nothing_on_a_request_unless_allowed(tmp_path, server, pack, online, monkeypatch):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from faceswaplab.api.handlers import ApiContext
    from faceswaplab.api.server import build_app
    from faceswaplab.cli import build_parser
    from faceswaplab.cli.serve_cmd import engine_for
    from tests.test_serve import b64_of

    use_registry(monkeypatch, *local_registry(server, pack))
    src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    tgt = fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)
    body = {"image": b64_of(tgt), "units": [{"source_images": [b64_of(src)], "faces": "all"}]}

    def post(*flags: str, models: Path):
        args = build_parser().parse_args(["serve", "--models-dir", str(models), *flags])
        engine = engine_for(args)
        ctx = ApiContext(engine=lambda: engine, checkpoints_dir=lambda: tmp_path / "faces")
        with TestClient(build_app(ctx, credentials={}, max_request_mb=16), raise_server_exceptions=False) as c:
            return c.post("/faceswaplab/v1/swap", json=body)

    r = post(models=tmp_path / "m1")
    assert str(tmp_path) not in r.text, "no server path in a reply"
    assert r.status_code == 503 and "--allow-download" in r.text and "does not download on a request" in r.text
    assert server.requests == [] and files_in(tmp_path / "m1") == []
    r = post("--allow-download", models=tmp_path / "m2")
    assert r.status_code == 200, r.text
    assert server.requests == ["/buffalo_l.zip", "/inswapper_128.onnx"]
    assert "inswapper_128.onnx" in files_in(tmp_path / "m2")


def test_no_downloads_block_forbids_a_fetch_the_store_would_allow(tmp_path, server, pack, online):
    specs, archives = local_registry(server, pack)
    engine = engine_mod.Engine(store=ModelStore(tmp_path / "models", specs=specs, archives=archives))
    with first_run.no_downloads("a request never downloads"):
        with pytest.raises(ModelMissingError) as ei:
            engine.swapper()
    assert str(ei.value).endswith("(not downloaded: a request never downloads)") and server.requests == []
    assert engine.swapper() is not None and server.requests == ["/inswapper_128.onnx"], "outside the block it fetches"


def test_offline_option_is_a_flag_and_a_setting():
    from faceswaplab.options import EngineOptions
    from faceswaplab.options.meta import CLI, SETTINGS, options_of

    assert EngineOptions().offline is False
    assert "offline" in {o.name for o in options_of(EngineOptions, CLI)} & {o.name for o in options_of(EngineOptions, SETTINGS)}
    store = ModelStore(Path("/nonexistent-fsl-models"))
    engine_mod.Engine(EngineOptions(offline=True), store=store)
    assert store.fetcher.offline and store.fetcher.offline_note() == " (not downloaded: offline mode is on (--offline))"


def test_both_opencv_packages_are_pinned_to_one_version():
    """insightface pulls opencv-python and nudenet opencv-python-headless; both write cv2/, so
    the standalone install pins them to the same release (install.py skips both in the web-ui)."""
    lines = [ln.split("#", 1)[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = dict(ln.split("==", 1) for ln in lines if ln.startswith("opencv-"))
    assert set(pins) == {"opencv-python", "opencv-python-headless"}
    assert len(set(pins.values())) == 1 and re.fullmatch(r"\d+(\.\d+){3}", pins["opencv-python"])


def test_an_api_context_with_no_downloads_never_fetches_on_a_request(tmp_path, server, pack, online):
    """The web-ui's API routes (its engine may download for the page): a request answers 503
    with the reason, without touching the network; the engine still fetches outside requests."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    import base64

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from faceswaplab.api import routes
    from faceswaplab.api.handlers import ApiContext

    specs, archives = local_registry(server, pack)
    engine = engine_mod.Engine(store=ModelStore(tmp_path / "models", specs=specs, archives=archives))
    app = FastAPI()
    routes.register(app, ApiContext(engine=lambda: engine, no_downloads="the web-ui's API does not download on a request"))
    buf = io.BytesIO()
    Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)).save(buf, format="PNG")
    img = base64.b64encode(buf.getvalue()).decode()
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/faceswaplab/v1/swap", json={"image": img, "units": [{"source_images": [img]}]})
    assert r.status_code == 503 and "the web-ui's API does not download on a request" in r.json()["detail"]
    assert server.requests == [] and str(tmp_path) not in r.text


def test_a_job_progress_bar_shows_the_download(tmp_path, server, pack, online):
    """The app's and the web-ui tab's batch/dataset jobs: the download on their own bar."""
    from faceswaplab.ui.job_control import ProgressReporter

    calls: list = []
    rep = ProgressReporter("Batch", bar=lambda v, desc="", unit="": calls.append((v, desc)))
    specs, archives = local_registry(server, pack)
    engine = engine_mod.Engine(store=ModelStore(tmp_path / "models", specs=specs, archives=archives))
    with first_run.progress_to(rep.download):
        engine.swapper()
    assert calls and calls[-1][0] == 1.0 and "inswapper_128.onnx" in calls[-1][1] and "(100%)" in calls[-1][1]
    assert all(str(tmp_path) not in d for _, d in calls) and server.requests == ["/inswapper_128.onnx"]
