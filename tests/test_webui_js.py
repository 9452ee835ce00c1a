"""Our javascript inside the web-ui's page logic, in headless Chromium.

The page freeze of round 1 came from an onUiUpdate callback that rewrote tab labels on every
call: the host runs those callbacks from a MutationObserver over the whole page, so each
write called the callback again. These tests load a re-implementation of the host's callback
contract (tests/js/host_callbacks.js: v1.10.1 and Forge share it) and the tab DOM that
gradio 3.41 and 4.40 render for our accordion (tests/js/fake_tabs.html, which re-creates
the buttons when a tab is selected, as gradio does), then assert that the page goes quiet,
that the marks are right and that nothing throws. A copy of the old behaviour is run as a
control: the harness must report it as a runaway loop, so the test can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser

pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (requirements-app-test.txt)")

ROOT = Path(__file__).resolve().parents[1]
HARNESS = (ROOT / "tests" / "js" / "host_callbacks.js").read_text(encoding="utf-8")
PAGE = (ROOT / "tests" / "js" / "fake_tabs.html").as_uri()
OURS = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "javascript").glob("*.js")))

# Round 1's script, reduced to what froze the page: a text write on every onUiUpdate call.
OLD_BEHAVIOUR = """
onUiUpdate(function () {
  document.querySelectorAll("#faceswaplab_txt2img_tabs > .tab-nav > button").forEach(function (b, i) {
    var box = document.querySelector("#faceswaplab_txt2img_unit" + (i + 1) + "_enabled input");
    if (!box) return;
    var base = b.textContent.replace(/ \\u2713$/, "");
    b.textContent = box.checked ? base + " \\u2713" : base;
  });
});
"""

LABELS = """prefix => Array.from(document.querySelectorAll('#' + prefix + '_tabs > .tab-nav > button'))
    .map(b => b.textContent)"""


@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as b:
        yield b


def open_page(chromium, flavour: int, script: str):
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.add_init_script(HARNESS)
    page.add_init_script(script)
    page.goto(f"{PAGE}?flavour={flavour}")
    page.wait_for_function("window.__host && window.__host.loaded === 1 && document.querySelector('#faceswaplab_img2img_tabs button')")
    return page, errors


def counts(page) -> dict:
    return page.evaluate("({...window.__host})")


def settle(page, ms: int = 700) -> dict:
    page.wait_for_timeout(ms)
    return counts(page)


def assert_quiet(page, ms: int = 1000) -> dict:
    """No observed mutation batch for `ms`, the loop guard never tripped, no callback threw."""
    before = counts(page)
    after = settle(page, ms)
    assert not after["runaway"], "the page loops on the host's MutationObserver"
    assert after["batches"] == before["batches"], f"the page is still mutating: {before} -> {after}"
    assert after["errors"] == []
    return after


def labels(page, tab: str = "txt2img") -> list[str]:
    return page.evaluate(LABELS, f"faceswaplab_{tab}")


def clean(texts: list[str]) -> list[str]:
    return [t.strip() for t in texts]


@pytest.mark.parametrize("flavour", [3, 4], ids=["gradio3-a1111", "gradio4-forge"])
def test_page_goes_quiet_and_marks_enabled_units(chromium, flavour):
    page, errors = open_page(chromium, flavour, OURS)
    try:
        loaded = settle(page)
        assert loaded["batches"] < 20, loaded
        quiet = assert_quiet(page)
        assert clean(labels(page)) == ["Face 1", "Face 2", "Face 3", "Post-processing"]

        page.check("#faceswaplab_txt2img_unit2_enabled input[type=checkbox]")
        settle(page, 400)
        got = labels(page)
        assert clean(got) == ["Face 1", "Face 2 \u2713", "Face 3", "Post-processing"], got
        assert got[1].strip() == got[1] and "  " not in got[1], f"one space before the mark: {got[1]!r}"
        assert clean(labels(page, "img2img")) == ["Face 1", "Face 2", "Face 3", "Post-processing"]
        ticked = assert_quiet(page)
        assert ticked["batches"] - quiet["batches"] <= 2, (quiet, ticked)

        # selecting another tab makes gradio re-create the buttons: the mark comes back
        page.click("#faceswaplab_txt2img_tabs > .tab-nav > button:nth-child(3)")
        settle(page, 600)
        assert clean(labels(page)) == ["Face 1", "Face 2 \u2713", "Face 3", "Post-processing"]
        reselected = assert_quiet(page)
        assert reselected["batches"] - ticked["batches"] <= 4

        page.uncheck("#faceswaplab_txt2img_unit2_enabled input[type=checkbox]")
        page.check("#faceswaplab_img2img_unit1_enabled input[type=checkbox]")
        settle(page, 400)
        assert clean(labels(page)) == ["Face 1", "Face 2", "Face 3", "Post-processing"]
        assert clean(labels(page, "img2img")) == ["Face 1 \u2713", "Face 2", "Face 3", "Post-processing"]
        assert_quiet(page)
        assert errors == []
    finally:
        page.close()


def test_the_old_behaviour_is_caught_as_a_loop(chromium):
    """The control: round 1's text writes on every onUiUpdate never let the page settle."""
    page, _ = open_page(chromium, 3, OLD_BEHAVIOUR)
    try:
        page.wait_for_function("window.__host.runaway === true", timeout=10000)
    finally:
        page.close()
