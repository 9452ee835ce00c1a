"""Stand-in for modules/script_callbacks.py (v1.10.1): `on_app_started(callback)` (callback(demo,
app)), `on_ui_tabs(callback)` (callback() -> list of (blocks, title, elem_id)),
`on_ui_settings(callback)` (callback()), `on_infotext_pasted(callback)` (callback(infotext,
params), may edit params), `clear_callbacks()`; the `app_started_callback(demo, app)`,
`ui_tabs_callback()`, `ui_settings_callback()` and `infotext_pasted_callback(infotext,
params)` runners."""
callbacks_app_started = []
callbacks_ui_tabs = []
callbacks_ui_settings = []
callbacks_infotext_pasted = []


def clear_callbacks():
    callbacks_app_started.clear()
    callbacks_ui_tabs.clear()
    callbacks_ui_settings.clear()
    callbacks_infotext_pasted.clear()


def on_app_started(callback, *, name=None):
    callbacks_app_started.append(callback)


def on_ui_tabs(callback, *, name=None):
    callbacks_ui_tabs.append(callback)


def on_ui_settings(callback, *, name=None):
    callbacks_ui_settings.append(callback)


def app_started_callback(demo, app):
    for c in callbacks_app_started:
        c(demo, app)


def ui_tabs_callback():
    res = []
    for c in callbacks_ui_tabs:
        res += c() or []
    return res


def ui_settings_callback():
    for c in callbacks_ui_settings:
        c()


def on_infotext_pasted(callback, *, name=None):
    callbacks_infotext_pasted.append(callback)


def infotext_pasted_callback(infotext, params):
    for c in callbacks_infotext_pasted:
        c(infotext, params)
