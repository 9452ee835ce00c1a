"""Stand-in for modules/options.py (v1.10.1): `OptionInfo(default=None, label="", component=None,
component_args=None, onchange=None, section=None, refresh=None, comment_before='',
comment_after='', infotext=None, restrict_api=False, category_id=None)` and `Options` with
`add_option(key, info)`, attribute access to values (`opts.<key>`, AttributeError when unknown)
and `data` / `data_labels`."""


class OptionInfo:
    def __init__(self, default=None, label="", component=None, component_args=None, onchange=None, section=None,
                 refresh=None, comment_before='', comment_after='', infotext=None, restrict_api=False, category_id=None):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.refresh = refresh
        self.infotext = infotext
        self.restrict_api = restrict_api
        self.category_id = category_id

    def needs_reload_ui(self):
        return self

    def info(self, info):
        return self


class Options:
    def __init__(self, data_labels=None):
        super().__setattr__("data_labels", dict(data_labels or {}))
        super().__setattr__("data", {k: v.default for k, v in self.data_labels.items()})

    def add_option(self, key, info):
        self.data_labels[key] = info
        if key not in self.data:
            self.data[key] = info.default

    def __setattr__(self, key, value):
        if key in ("data", "data_labels"):
            return super().__setattr__(key, value)
        old = self.data.get(key)
        self.data[key] = value
        info = self.data_labels.get(key)
        if info is not None and info.onchange is not None and old != value:
            info.onchange()

    def __getattr__(self, item):
        data = self.__dict__.get("data", {})
        if item in data:
            return data[item]
        labels = self.__dict__.get("data_labels", {})
        if item in labels:
            return labels[item].default
        raise AttributeError(item)
