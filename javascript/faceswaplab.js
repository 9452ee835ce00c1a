// FaceSwapLab: mark the face-unit tabs whose "Enable" box is ticked ("Face 1 ✓"), so the
// enabled units are visible without opening each tab. Only reads/writes the tab buttons' text.
(function () {
    function unitTabs(prefix) {
        var tabs = gradioApp().querySelector("#" + prefix + "_tabs");
        if (!tabs) return;
        var buttons = tabs.querySelectorAll(":scope > div > button, :scope > .tab-nav > button");
        buttons.forEach(function (button, i) {
            var box = gradioApp().querySelector("#" + prefix + "_unit" + (i + 1) + "_enabled input[type=checkbox]");
            if (!box) return;
            var base = button.textContent.replace(/ \u2713$/, "");
            button.textContent = box.checked ? base + " \u2713" : base;
        });
    }
    function refresh() {
        ["faceswaplab_txt2img", "faceswaplab_img2img"].forEach(unitTabs);
    }
    onUiUpdate(refresh);
    document.addEventListener("change", function (e) {
        if (e.target && e.target.closest && e.target.closest("[id^=faceswaplab_]")) refresh();
    });
})();
