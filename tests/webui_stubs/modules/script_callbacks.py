"""Stand-in for modules/script_callbacks.py (v1.10.1): `on_app_started(callback)` (callback(demo,
app)), `on_ui_tabs(callback)` (callback() -> list of (blocks, title, elem_id)),
`on_ui_settings(callback)` (callback()), `clear_callbacks()`; the `app_started_callback(demo,
app)`, `ui_tabs_callback()` and `ui_settings_callback()` runners."""
callbacks_app_started = []
callbacks_ui_tabs = []
callbacks_ui_settings = []


def clear_callbacks():
    callbacks_app_started.clear()
    callbacks_ui_tabs.clear()
    callbacks_ui_settings.clear()


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
