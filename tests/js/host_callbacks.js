// A re-implementation (for tests) of the callback contract the web-ui's script.js gives
// extension scripts, in v1.10.1 and in Forge (same semantics): gradioApp(); onUiUpdate
// callbacks run from ONE MutationObserver over the whole app (childList + subtree, no
// characterData) with the mutation records; onAfterUiUpdate callbacks run 200 ms after the
// last observed batch; onUiLoaded once, the first time #txt2img_prompt exists;
// onUiTabChange when the selected top tab changes. Instrumented: window.__host counts
// observer batches and records, and stops a runaway loop (an extension that keeps mutating
// the page from its own callback) so the test can report it instead of hanging.
(function () {
    var host = (window.__host = {batches: 0, records: 0, afterUpdates: 0, loaded: 0, runaway: false, errors: []});
    var RUNAWAY = 5000;
    window.gradioApp = function () {
        var elems = document.getElementsByTagName("gradio-app");
        var elem = elems.length === 0 ? document : elems[0];
        if (elem !== document) {
            elem.getElementById = function (id) { return document.getElementById(id); };
        }
        return elem.shadowRoot ? elem.shadowRoot : elem;
    };
    var update = [], after = [], loaded = [], tabChange = [];
    window.onUiUpdate = function (cb) { update.push(cb); };
    window.onAfterUiUpdate = function (cb) { after.push(cb); };
    window.onUiLoaded = function (cb) { loaded.push(cb); };
    window.onUiTabChange = function (cb) { tabChange.push(cb); };
    window.onOptionsChanged = function () {};
    function run(queue, arg) {
        for (var i = 0; i < queue.length; i++) {
            try { queue[i](arg); } catch (e) { host.errors.push(String(e)); console.error("error running callback", e); }
        }
    }
    var timer = null, executedLoaded = false, currentTab = null;
    document.addEventListener("DOMContentLoaded", function () {
        var observer = new MutationObserver(function (m) {
            host.batches += 1;
            host.records += m.length;
            if (host.batches > RUNAWAY) {
                host.runaway = true;
                observer.disconnect();
                return;
            }
            if (!executedLoaded && gradioApp().querySelector("#txt2img_prompt")) {
                executedLoaded = true;
                host.loaded += 1;
                run(loaded);
            }
            run(update, m);
            clearTimeout(timer);
            timer = setTimeout(function () { host.afterUpdates += 1; run(after); }, 200);
            var tab = gradioApp().querySelector("#tabs > .tab-nav > button.selected");
            if (tab && tab !== currentTab) { currentTab = tab; run(tabChange); }
        });
        observer.observe(gradioApp(), {childList: true, subtree: true});
    });
})();
