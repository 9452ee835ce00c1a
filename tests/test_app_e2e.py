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
    models: Path  # its --models-dir (checkpoints in <it>/faces)
    log: Path


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
        yield App(url, tmp / "out", models, log_path)
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
            page = _open_page(browser, app, 1280, 900, aborted)
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
            page = _open_page(browser, app, 1280, 900, aborted)
            page.get_by_role("tab", name="Batch").click()
            page.locator("#faceswaplab_batch_uploads input[type=file]").set_input_files(targets)
            page.locator("#faceswaplab_batch_unit1_source_image input[type=file]").set_input_files(str(source_png))
            page.wait_for_selector("#faceswaplab_batch_unit1_source_image img", timeout=30_000)
            page.wait_for_function(
                "() => document.querySelector('#faceswaplab_batch_uploads').innerText.includes('t2')", timeout=30_000
            )
            page.click("#faceswaplab_batch_stop")  # nothing running: a note in the status line
            page.wait_for_function(
                "() => document.querySelector('#faceswaplab_batch_status').innerText.includes('No job')", timeout=10_000
            )
            page.click("#faceswaplab_batch_run")
            page.wait_for_function(  # a run starts with the old notes gone
                "() => !document.querySelector('#faceswaplab_batch_status').innerText.includes('No job')",
                timeout=10_000,
            )
            overlays = 0
            for _ in range(40):  # while it runs, one progress overlay on the panel
                overlays = max(overlays, page.locator(".progress-text:visible, .eta-bar:visible").count())
                if "input(s)" in page.inner_text("#faceswaplab_batch_message"):
                    break
                page.wait_for_timeout(100)
            page.wait_for_function(
                "() => (document.querySelector('#faceswaplab_batch_message') || {}).innerText?.includes('input(s)')",
                timeout=SWAP_TIMEOUT_S * 1000,
            )
            message = page.inner_text("#faceswaplab_batch_message")
            table = page.inner_text("#faceswaplab_batch_table")
            status = page.inner_text("#faceswaplab_batch_status")
            page.screenshot(path=str(ARTIFACTS / "app_batch.png"), full_page=True)
        finally:
            browser.close()
    assert "3 input(s)" in message and "2 swapped" in message and "1 no-face" in message, message
    assert "t0.png" in table and "no-face" in table, table
    assert status.strip() == "", status
    assert overlays <= 1, f"{overlays} progress overlays for one job"
    written = sorted(p.name for p in (app.output_root / "batch").glob("*.png"))
    assert written == ["t0.png", "t2.png"]


# --------------------------------------------------------------------------- layout and flows

ARTIFACTS = ROOT / "test-artifacts"


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} not shown"
    return box


def _open_page(browser, app, width: int, height: int, aborted: list[str]):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route("**/*", _only_local(aborted))
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#faceswaplab_app_swap", timeout=60_000)
    return page


def test_swap_tab_layout_at_desktop_and_phone_widths(app):
    """Source face and target side by side at the top, Swap under both, the result beside
    them (desktop); on a phone everything stacks in that order. Screenshots of both go to
    test-artifacts/app_desktop.png and app_phone.png."""
    from playwright.sync_api import sync_playwright

    aborted: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = _open_page(browser, app, 1366, 900, aborted)
            src, tgt = _box(page, "#faceswaplab_app_unit1_source_image"), _box(page, "#faceswaplab_app_target")
            swap, res = _box(page, "#faceswaplab_app_swap"), _box(page, "#faceswaplab_app_result")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "app_desktop.png"), full_page=True)
            # the enhancement options are folded: the quality accordion's restorer is hidden
            assert not page.locator("#faceswaplab_app_unit1_restorer").first.is_visible()
            phone = _open_page(browser, app, 390, 844, aborted)
            p_src, p_tgt = _box(phone, "#faceswaplab_app_unit1_source_image"), _box(phone, "#faceswaplab_app_target")
            p_swap, p_res = _box(phone, "#faceswaplab_app_swap"), _box(phone, "#faceswaplab_app_result")
            phone.screenshot(path=str(ARTIFACTS / "app_phone.png"), full_page=True)
        finally:
            browser.close()
    assert src["x"] + src["width"] <= tgt["x"] + 1, (src, tgt)  # side by side
    assert abs(src["y"] - tgt["y"]) < 120 and src["y"] < 450, (src, tgt)  # both at the top
    assert swap["y"] >= max(src["y"] + src["height"], tgt["y"] + tgt["height"]) - 1, (swap, src, tgt)
    assert swap["x"] <= src["x"] + 1 and swap["x"] + swap["width"] >= tgt["x"] + tgt["width"] - 1  # under both
    assert res["x"] >= tgt["x"] + tgt["width"] - 1 and res["y"] < 450, (res, tgt)  # beside, at the top
    # phone: one column, nothing wider than the screen, in reading order
    for b in (p_src, p_tgt, p_swap, p_res):
        assert b["x"] >= 0 and b["x"] + b["width"] <= 390 + 1, b
    assert p_src["y"] < p_tgt["y"] < p_swap["y"] < p_res["y"]
    assert not aborted or all(urlparse(u).hostname != LOCAL for u in aborted)


def test_upload_that_is_not_an_image_shows_our_one_line(app, tmp_path):
    """A text file named .png as the target: FaceSwapLab's decoder answers in the message,
    naming the file by its name; no gradio "Could not preprocess" toast, no traceback."""
    from playwright.sync_api import sync_playwright

    notes = tmp_path / "notes.png"
    notes.write_text("these are my notes, not a picture\n" * 20, encoding="utf-8")
    source_png = tmp_path / "source.png"
    Image.fromarray(fm.make_face_image(faces=[SOURCE_FACE], seed=11)).save(source_png)
    log_before = app.log.read_text(errors="replace")
    aborted: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = _open_page(browser, app, 1366, 900, aborted)
            page.locator("#faceswaplab_app_unit1_source_image input[type=file]").set_input_files(str(source_png))
            page.wait_for_selector("#faceswaplab_app_unit1_source_image img", timeout=30_000)
            page.locator("#faceswaplab_app_target input[type=file]").set_input_files(str(notes))
            page.wait_for_timeout(1500)  # the upload reaches the server
            page.click("#faceswaplab_app_swap")
            page.wait_for_function(
                "() => (document.querySelector('#faceswaplab_app_message') || {}).innerText?.includes('Not swapped')",
                timeout=SWAP_TIMEOUT_S * 1000,
            )
            message = page.inner_text("#faceswaplab_app_message")
            toasts = page.locator(".toast-body").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / "app_bad_upload.png"), full_page=True)
        finally:
            browser.close()
    log_after = app.log.read_text(errors="replace")[len(log_before):]
    assert "notes.png" in message and "not an image" in message, message
    assert "/tmp" not in message and "gradio" not in message.lower(), message
    assert not any("preprocess" in t.lower() for t in toasts), toasts
    assert "Traceback" not in log_after, log_after[-2000:]


def _dropdown_options(page, elem_id: str) -> list[str]:
    page.locator(f"#{elem_id} input").first.click()
    page.wait_for_selector("ul.option-list li", timeout=10_000)
    texts = page.locator("ul.option-list li").all_inner_texts()
    page.keyboard.press("Escape")
    return [t.strip() for t in texts]


def test_checkpoint_dropdowns_refresh_after_build_and_on_load(app, tmp_path):
    """A checkpoint built in the Build tab is offered in the Swap tab's dropdown at once; one
    that appears in the folder meanwhile is offered after a page load, no refresh button."""
    from playwright.sync_api import sync_playwright

    face_png = tmp_path / "anna.png"
    Image.fromarray(fm.make_face_image(faces=[SOURCE_FACE], seed=11)).save(face_png)
    aborted: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = _open_page(browser, app, 1366, 900, aborted)
            page.get_by_role("tab", name="Build checkpoint").click()
            page.locator("#faceswaplab_build_files input[type=file]").set_input_files(str(face_png))
            page.wait_for_function(
                "() => document.querySelector('#faceswaplab_build_files').innerText.includes('anna')", timeout=30_000
            )
            page.fill("#faceswaplab_build_name textarea, #faceswaplab_build_name input", "annacp")
            page.click("#faceswaplab_build_go")
            page.wait_for_function(
                "() => (document.querySelector('#faceswaplab_build_message') || {}).innerText?.includes('Saved')",
                timeout=SWAP_TIMEOUT_S * 1000,
            )
            page.get_by_role("tab", name="Swap").first.click()
            page.wait_for_timeout(500)
            after_build = _dropdown_options(page, "faceswaplab_app_unit1_checkpoint")
            faces = app.models / "faces"
            for suffix in (".safetensors",):
                (faces / f"bertacp{suffix}").write_bytes((faces / f"annacp{suffix}").read_bytes())
            page.reload(wait_until="domcontentloaded")
            page.wait_for_selector("#faceswaplab_app_swap", timeout=60_000)
            page.wait_for_timeout(1000)
            after_load = _dropdown_options(page, "faceswaplab_app_unit1_checkpoint")
        finally:
            browser.close()
    assert "annacp" in after_build, after_build
    assert "bertacp" in after_load and "annacp" in after_load, after_load
