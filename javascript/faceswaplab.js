// FaceSwapLab: mark the face-unit tabs whose "Enable" box is ticked ("Face 1 ✓"), so the
// enabled units are visible without opening each tab.
//
// Why it is written this way: the web-ui (v1.10.1 and Forge) runs every onUiUpdate callback
// from a MutationObserver that watches childList changes of the whole page, and gradio
// re-creates a tab's <button> whenever the selected tab changes. A callback that replaces
// text nodes (textContent = ...) is itself a childList mutation and calls itself forever:
// the page froze. So this script
//   - edits the existing text node's data (a characterData change, which that observer does
//     not watch, and which keeps gradio's own reference to its node valid),
//   - writes only when the label actually differs,
//   - runs on the events that matter: the page being loaded (onUiLoaded), a unit's checkbox
//     changing, a tab click, and the debounced onAfterUiUpdate (once per settled burst of
//     page changes, which is when gradio has re-created the buttons or pasted values).
(function () {
    "use strict";

    var PREFIXES = ["faceswaplab_txt2img", "faceswaplab_img2img"];
    var MARK = "\u2713";
    var TRAILING_MARK = /\s*\u2713\s*$/;

    function root() {
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    function textNode(button) {
        // The first non-blank text node: gradio 3 renders "Face 1", gradio 4 "Face 1 "
        // (the template's whitespace), possibly inside a span.
        var walker = document.createTreeWalker(button, NodeFilter.SHOW_TEXT);
        for (var node = walker.nextNode(); node; node = walker.nextNode()) {
            if (node.data.trim()) return node;
        }
        return null;
    }

    function label(base, enabled) {
        var clean = base.replace(TRAILING_MARK, "").trim();
        return enabled ? clean + " " + MARK : clean;
    }

    function syncTabs(app, prefix) {
        var tabs = app.querySelector("#" + prefix + "_tabs");
        if (!tabs) return;
        var buttons = tabs.querySelectorAll(":scope > .tab-nav > button, :scope > [role=tablist] > button");
        for (var i = 0; i < buttons.length; i++) {
            // gradio 4 names the button after its tab ("<tab id>-button"); gradio 3 does not
            var m = /_unit(\d+)_tab-button$/.exec(buttons[i].id || "");
            var unit = m ? m[1] : String(i + 1);
            var box = app.querySelector("#" + prefix + "_unit" + unit + "_enabled input[type=checkbox]");
            if (!box) continue; // the post-processing tab, or a unit not rendered yet
            var node = textNode(buttons[i]);
            if (!node) continue;
            var want = label(node.data, box.checked);
            var have = node.data.trim();
            if (have !== want) node.data = want;
        }
    }

    var scheduled = false;

    function sync() {
        scheduled = false;
        var app = root();
        for (var i = 0; i < PREFIXES.length; i++) syncTabs(app, PREFIXES[i]);
    }

    function soon() {
        // after gradio has applied the click/change (it re-renders in a microtask)
        if (scheduled) return;
        scheduled = true;
        (window.requestAnimationFrame || window.setTimeout)(sync);
    }

    function ours(target) {
        return target && target.closest && target.closest("[id^=faceswaplab_]");
    }

    var listening = false;

    function listen() {
        if (listening) return;
        listening = true;
        var app = root();
        app.addEventListener("change", function (e) {
            if (ours(e.target)) soon();
        }, true);
        app.addEventListener("click", function (e) {
            if (ours(e.target)) soon();
        }, true);
        sync();
    }

    if (typeof onUiLoaded === "function") {
        onUiLoaded(listen);
    } else if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", listen);
    } else {
        listen();
    }
    if (typeof onAfterUiUpdate === "function") onAfterUiUpdate(sync);
})();
