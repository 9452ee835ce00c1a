"""The extension's page parts in the REAL gradio front end of the web-ui hosts (gradio 3.41 in
the A1111 env, 4.40 in the Forge env), in headless Chromium: our accordion (txt2img and
img2img, with the infotext paste wiring the host adds), the Extras panel and the FaceSwapLab
tab, with the host's callback contract (tests/js/host_callbacks.js) and our javascript/*.js
injected as the host injects them. Compared with the same page without the extension: it
loads, it goes quiet (no loop on the host's MutationObserver), and it logs no error that
the page without the extension does not (round 1 added two "reading 'props'" errors).

Skipped where gradio or playwright is missing, and on gradio 5+ (no web-ui host runs it; the
standalone app does not load these scripts).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests import browser
from tests.webui_host import setup_host

gr = pytest.importorskip("gradio")
pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright")
if int(gr.__version__.split(".")[0]) >= 5:
    pytest.skip("the web-ui hosts run gradio 3.41 (A1111) and 4.40 (Forge)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
HARNESS = (ROOT / "tests" / "js" / "host_callbacks.js").read_text(encoding="utf-8")
OURS = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "javascript").glob("*.js")))
CSS = (ROOT / "style.css").read_text(encoding="utf-8")
LOAD_TIMEOUT_MS = 60000


def build_page(scripts_mod, with_extension: bool):
    """A page shaped like the web-ui's: top tabs with a prompt box; our parts when asked."""
    from modules import script_callbacks

    with gr.Blocks(title="web-ui", css=CSS if with_extension else None, analytics_enabled=False) as demo:
        with gr.Tabs(elem_id="tabs"):
            for tab, is_img2img in (("txt2img", False), ("img2img", True)):
                with gr.Tab(tab, elem_id=f"tab_{tab}"):
                    prompt = gr.Textbox(label="Prompt", elem_id=f"{tab}_prompt")
                    generate = gr.Button("Generate", elem_id=f"{tab}_generate")
                    if with_extension:
                        script = scripts_mod.scripts_data[0].script_class()
                        with gr.Group():
                            comps = script.ui(is_img2img)
                        # the host passes every script control to its generate call
                        generate.click(fn=lambda *args: None, inputs=[prompt, *comps], outputs=[])
                        # the host's infotext paste: one button whose outputs are every
                        # (component, key) of script.infotext_fields
                        fields = [c for c, _ in script.infotext_fields]
                        paste = gr.Button("paste", elem_id=f"{tab}_paste")
                        paste.click(fn=lambda text, n=len(fields): [gr.update() for _ in range(n)],
                                    inputs=[prompt], outputs=fields)
            with gr.Tab("Extras", elem_id="tab_extras"):
                gr.Image(label="Source", elem_id="extras_image")
                if with_extension:
                    scripts_mod.postprocessing_scripts_data[0].script_class().ui()
            if with_extension:
                for blocks, title, elem_id in script_callbacks.ui_tabs_callback():
                    with gr.Tab(title, elem_id=f"tab_{elem_id}"):
                        blocks.render()
    return demo


@pytest.fixture(scope="module")
def pages(tmp_path_factory, models_dir):
    """(url without the extension, url with it)."""
    browser.require_browser()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    scripts_mod = setup_host(tmp_path_factory.mktemp("webui"), models_dir)
    demos, urls = [], []
    for with_ext in (False, True):
        demo = build_page(scripts_mod, with_ext)
        demo.queue()
        port = browser.free_port()
        demo.launch(server_name=browser.LOCAL, server_port=port, prevent_thread_lock=True, quiet=True)
        demos.append(demo)
        urls.append(f"http://{browser.LOCAL}:{port}/")
    yield urls
    for d in demos:
        d.close()


@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as b:
        yield b


def visit(chromium, url: str):
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.route("**/*", browser.local_only)
    page.add_init_script(HARNESS)
    page.add_init_script(OURS)
    t0 = time.monotonic()
    page.goto(url)
    page.wait_for_selector("#txt2img_generate", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function("window.__host && window.__host.loaded === 1", timeout=LOAD_TIMEOUT_MS)
    return page, errors, time.monotonic() - t0


def quiet(page, ms: int = 1200) -> dict:
    before = page.evaluate("({...window.__host})")
    page.wait_for_timeout(ms)
    after = page.evaluate("({...window.__host})")
    assert not after["runaway"], "the page loops on the host's MutationObserver"
    assert after["batches"] == before["batches"], f"still mutating: {before} -> {after}"
    assert after["errors"] == []
    return after


def ours_only(with_ext: list[str], without: list[str]) -> list[str]:
    """Errors of the page with the extension that the page without it does not log (aborted
    outside requests, e.g. fonts, fail the same way on both)."""
    base = set(without)
    return [e for e in with_ext if e not in base and "Failed to load resource" not in e]


def test_page_loads_quiet_without_new_errors(chromium, pages):
    plain_url, ext_url = pages
    page0, errors0, t_plain = visit(chromium, plain_url)
    page0.wait_for_timeout(1500)
    page0.close()
    page, errors, t_ext = visit(chromium, ext_url)
    try:
        page.wait_for_timeout(1500)
        quiet(page)
        assert ours_only(errors, errors0) == []
        assert t_ext < t_plain + 10, (t_plain, t_ext)

        # open the accordion, tick unit 1: its tab reads "Face 1 ✓", the page settles again
        page.click("#faceswaplab_txt2img_accordion .label-wrap")
        box = page.locator("#faceswaplab_txt2img_unit1_enabled input[type=checkbox]")
        box.check()
        page.wait_for_timeout(600)
        labels = page.evaluate(
            "Array.from(document.querySelectorAll('#faceswaplab_txt2img_tabs > .tab-nav > button, "
            "#faceswaplab_txt2img_tabs > [role=tablist] > button')).map(b => b.textContent.trim())"
        )
        assert labels[:2] == ["Face 1 \u2713", "Face 2"], labels
        quiet(page)
        # another tab selected: gradio re-creates the buttons; the mark comes back
        page.click("#faceswaplab_txt2img_tabs button:has-text('Face 2')")
        page.wait_for_timeout(600)
        labels = page.evaluate(
            "Array.from(document.querySelectorAll('#faceswaplab_txt2img_tabs > .tab-nav > button, "
            "#faceswaplab_txt2img_tabs > [role=tablist] > button')).map(b => b.textContent.trim())"
        )
        assert labels[0] == "Face 1 \u2713", labels
        quiet(page)
        # the host's infotext paste updates every mapped component without a front-end error
        page.click("#txt2img_paste")
        page.wait_for_timeout(1000)
        assert ours_only(errors, errors0) == []
    finally:
        page.close()
