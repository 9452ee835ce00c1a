"""The standalone app in a real browser: `python -m faceswaplab ui` on 127.0.0.1 with stand-in
models, driven by playwright in the system's headless Chromium (Debian package `chromium`;
playwright never downloads a browser here). Every request to a host other than 127.0.0.1 is
aborted. It uploads a source and a target, clicks Swap, fetches the result image the page
shows and checks that the face changed and the rest did not; a screenshot of the page goes to
test-artifacts/app_e2e.png.

Needs gradio and playwright (requirements-app.txt, requirements-app-test.txt); skipped where
they are not installed. A missing browser skips the test, except with CI=true, where it fails.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from tests import fakemodels as fm

pytest.importorskip("gradio", reason="the app needs gradio (requirements-app.txt)")
pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (requirements-app-test.txt)")
if int(pytest.importorskip("gradio").__version__.split(".")[0]) < 5:
    # the web-ui envs carry playwright for tests/test_webui_page.py; the standalone app's
    # browser test belongs to the app's own gradio (requirements-app.txt), run in .ci/run step 5
    pytest.skip("the app's browser test runs with the app's pinned gradio", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACT = ROOT / "test-artifacts" / "app_e2e.png"
LOCAL = "127.0.0.1"
START_TIMEOUT_S = 120
SWAP_TIMEOUT_S = 90

TARGET_FACE = (170, 140, 170, fm.FEMALE, 3)  # x, y, side, tint, identity
SOURCE_FACE = (200, 200, 160, fm.MALE, 7)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _require_browser() -> None:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if _in_ci():
        pytest.fail(f"{reason}; CI=true: the browser test must run")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    with opener.open(url, timeout=timeout) as r:
        return int(r.status)


@dataclass
class App:
    url: str
    output_root: Path  # the app's --output-dir (batch jobs without a folder typed go to <it>/batch)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    _require_browser()
    tmp = tmp_path_factory.mktemp("app-e2e")
    models = tmp / "models"
    fm.write_all(models)
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    env.pop("FACESWAPLAB_MODELS", None)
    log_path = tmp / "app.log"
    cmd = [sys.executable, "-m", "faceswaplab", "ui", "--port", str(port), "--models-dir", str(models),
           "--output-dir", str(tmp / "out")]  # fmt: skip
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{LOCAL}:{port}/"
    t0 = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                if _get(url) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - t0 > START_TIMEOUT_S:
                pytest.fail(f"the app did not answer on {url} in {START_TIMEOUT_S}s:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        print(f"app up in {time.monotonic() - t0:.1f}s at {url}")
        yield App(url, tmp / "out")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _only_local(aborted: list[str]):
    def handler(route) -> None:
        if urlparse(route.request.url).hostname == LOCAL:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    return handler


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)


def test_swap_in_the_browser(app, tmp_path):
    from playwright.sync_api import sync_playwright

    from faceswaplab.imageio import read_edit_mark

    target = fm.make_face_image(size=(512, 448), faces=[TARGET_FACE], seed=5)
    source = fm.make_face_image(faces=[SOURCE_FACE], seed=11)
    target_png, source_png = tmp_path / "target.png", tmp_path / "source.png"
    Image.fromarray(target).save(target_png)
    Image.fromarray(source).save(source_png)

    aborted: list[str] = []
    t0 = time.monotonic()
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", _only_local(aborted))
            page.goto(app.url, wait_until="domcontentloaded")
            page.wait_for_selector("#faceswaplab_app_swap", timeout=60_000)
            page.locator("#faceswaplab_app_target input[type=file]").set_input_files(str(target_png))
            page.locator("#faceswaplab_app_unit1_source_image input[type=file]").set_input_files(str(source_png))
            # Both previews shown: the uploads reached the server.
            page.wait_for_selector("#faceswaplab_app_target img", timeout=30_000)
            page.wait_for_selector("#faceswaplab_app_unit1_source_image img", timeout=30_000)
            page.click("#faceswaplab_app_swap")
            img = page.wait_for_selector("#faceswaplab_app_result img[src]", timeout=SWAP_TIMEOUT_S * 1000)
            page.wait_for_function(
                "() => (document.querySelector('#faceswaplab_app_message') || {}).innerText?.includes('swapped')",
                timeout=30_000,
            )
            message = page.inner_text("#faceswaplab_app_message")
            src = img.get_attribute("src") or ""
            assert urlparse(src).hostname == LOCAL, src
            resp = page.request.get(src)
            assert resp.ok, (resp.status, src)
            body = resp.body()
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
        finally:
            browser.close()
    print(f"browser part: {time.monotonic() - t0:.1f}s; aborted non-local requests: {aborted}")

    assert "1 swapped" in message, message
    result_file = tmp_path / "result.png"
    result_file.write_bytes(body)
    assert read_edit_mark(result_file), "the served result carries the edit mark (it is the file the app wrote)"
    result = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    assert result.shape == target.shape
    x, y, side = TARGET_FACE[:3]
    inner = (slice(y + 40, y + side - 40), slice(x + 40, x + side - 40))
    diff = np.abs(result.astype(np.int16) - target.astype(np.int16))
    assert diff[inner].mean() > 10, "the face inside the box must change visibly"
    # Outside the face box (plus the soft mask's few pixels), the PNG is the target exactly.
    outside = np.ones(target.shape[:2], bool)
    m = 12
    outside[max(y - m, 0) : y + side + m, max(x - m, 0) : x + side + m] = False
    assert diff[outside].max() == 0, f"{int((diff[outside].max(axis=-1) > 0).sum())} pixels changed outside the face"
    assert ARTIFACT.is_file() and ARTIFACT.stat().st_size > 10_000


def test_batch_panel_in_the_browser(app, tmp_path):
    """The Batch tab through gradio: uploads, the gr.Progress-driven job, the results table."""
    from playwright.sync_api import sync_playwright

    targets = []
    for i in range(3):
        faces = [(150 + 12 * i, 140, 170, fm.FEMALE, 40 + i)] if i != 1 else []
        path = tmp_path / f"t{i}.png"
        Image.fromarray(fm.make_face_image(size=(480, 480), faces=faces, seed=50 + i)).save(path)
        targets.append(str(path))
    source_png = tmp_path / "source.png"
    Image.fromarray(fm.make_face_image(faces=[SOURCE_FACE], seed=11)).save(source_png)

    aborted: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", _only_local(aborted))
            page.goto(app.url, wait_until="domcontentloaded")
            page.get_by_role("tab", name="Batch").click()
            page.locator("#faceswaplab_batch_uploads input[type=file]").set_input_files(targets)
            page.locator("#faceswaplab_batch_unit1_source_image input[type=file]").set_input_files(str(source_png))
            page.wait_for_selector("#faceswaplab_batch_unit1_source_image img", timeout=30_000)
            page.wait_for_function(
                "() => document.querySelector('#faceswaplab_batch_uploads').innerText.includes('t2')", timeout=30_000
            )
            page.click("#faceswaplab_batch_run")
            page.wait_for_function(
                "() => (document.querySelector('#faceswaplab_batch_message') || {}).innerText?.includes('input(s)')",
                timeout=SWAP_TIMEOUT_S * 1000,
            )
            message = page.inner_text("#faceswaplab_batch_message")
            table = page.inner_text("#faceswaplab_batch_table")
        finally:
            browser.close()
    assert "3 input(s)" in message and "2 swapped" in message and "1 no-face" in message, message
    assert "t0.png" in table and "no-face" in table, table
    written = sorted(p.name for p in (app.output_root / "batch").glob("*.png"))
    assert written == ["t0.png", "t2.png"]
