"""Stand-in for modules/scripts.py (v1.10.1).

`Script` (title(), ui(is_img2img), show(is_img2img), before_process(p, *args), process(p,
*args), before_process_batch(p, *args, **kwargs), process_batch(p, *args, **kwargs),
postprocess_image(p, pp: PostprocessImageArgs, *args), postprocess(p, processed, *args),
attributes infotext_fields / paste_field_names / args_from / args_to / alwayson / is_img2img),
`AlwaysVisible`, `PostprocessImageArgs(image)`, and `load_scripts()` registering every `Script`
and `scripts_postprocessing.ScriptPostprocessing` subclass found in a script module's namespace
(imported ones included), with the script's base dir first on sys.path while it is imported.
`ScriptRunner` keeps the alwayson scripts and slices `p.script_args[args_from:args_to]` for
each hook, as the host does. Without gradio, `setup_ui` lays out args from `arg_count`.
"""
import importlib.util
import inspect
import os
import sys
from collections import namedtuple

from modules import scripts_postprocessing

AlwaysVisible = object()


class PostprocessImageArgs:
    def __init__(self, image):
        self.image = image


class PostprocessBatchListArgs:
    def __init__(self, images):
        self.images = images


class Script:
    name = None
    section = None
    filename = None
    args_from = None
    args_to = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    tabname = None
    group = None
    create_group = True
    infotext_fields = None
    paste_field_names = None
    api_info = None
    controls = None

    def title(self):
        raise NotImplementedError()

    def ui(self, is_img2img):
        pass

    def show(self, is_img2img):
        return True

    def run(self, p, *args):
        pass

    def setup(self, p, *args):
        pass

    def before_process(self, p, *args):
        pass

    def process(self, p, *args):
        pass

    def before_process_batch(self, p, *args, **kwargs):
        pass

    def process_batch(self, p, *args, **kwargs):
        pass

    def postprocess_batch(self, p, *args, **kwargs):
        pass

    def postprocess_image(self, p, pp: PostprocessImageArgs, *args):
        pass

    def postprocess(self, p, processed, *args):
        pass

    def before_hr(self, p, *args):
        pass

    def elem_id(self, item_id):
        return f"script_{'img2img' if self.is_img2img else 'txt2img'}_{item_id}"


ScriptClassData = namedtuple("ScriptClassData", ["script_class", "path", "basedir", "module"])
scripts_data = []
postprocessing_scripts_data = []
loaded_modules = {}


def load_module(path):
    # modules/script_loading.py: spec_from_file_location(os.path.basename(path), path)
    spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded_modules[path] = module
    return module


def load_scripts(extension_dirs):
    from modules import script_callbacks

    scripts_data.clear()
    postprocessing_scripts_data.clear()
    script_callbacks.clear_callbacks()
    syspath = sys.path
    for basedir in extension_dirs:
        folder = os.path.join(basedir, "scripts")
        for filename in sorted(os.listdir(folder)):
            path = os.path.join(folder, filename)
            if not filename.endswith(".py") or not os.path.isfile(path):
                continue
            try:
                sys.path = [basedir] + sys.path
                module = load_module(path)
                for cls in module.__dict__.values():
                    if not inspect.isclass(cls):
                        continue
                    if issubclass(cls, Script):
                        scripts_data.append(ScriptClassData(cls, path, basedir, module))
                    elif issubclass(cls, scripts_postprocessing.ScriptPostprocessing):
                        postprocessing_scripts_data.append(ScriptClassData(cls, path, basedir, module))
            finally:
                sys.path = syspath


class ScriptRunner:
    def __init__(self):
        self.scripts = []
        self.alwayson_scripts = []
        self.inputs = [None]
        self.infotext_fields = []
        self.paste_field_names = []

    def initialize_scripts(self, is_img2img):
        self.scripts.clear()
        self.alwayson_scripts.clear()
        for data in scripts_data:
            script = data.script_class()
            script.filename = data.path
            script.is_txt2img = not is_img2img
            script.is_img2img = is_img2img
            script.tabname = "img2img" if is_img2img else "txt2img"
            if script.show(is_img2img) == AlwaysVisible:
                script.alwayson = True
                self.scripts.append(script)
                self.alwayson_scripts.append(script)

    def setup_ui(self, arg_counts=None):
        """With gradio: call ui() and lay out inputs. Without: `arg_counts[title]` args each."""
        self.inputs = [None]
        for script in self.alwayson_scripts:
            script.args_from = len(self.inputs)
            if arg_counts is None:
                controls = script.ui(script.is_img2img) or []
                script.controls = controls
                if script.infotext_fields is not None:
                    self.infotext_fields += script.infotext_fields
                if script.paste_field_names is not None:
                    self.paste_field_names += script.paste_field_names
                self.inputs += controls
            else:
                self.inputs += [None] * arg_counts[script.title()]
            script.args_to = len(self.inputs)
            script.name = script.title().lower()
        return self.inputs

    def title_map(self):
        return {s.title().lower(): s for s in self.alwayson_scripts}

    def _each(self, hook, p, *extra, **kwargs):
        for script in self.alwayson_scripts:
            args = p.script_args[script.args_from:script.args_to]
            getattr(script, hook)(p, *extra, *args, **kwargs)

    def before_process(self, p):
        self._each("before_process", p)

    def process(self, p):
        self._each("process", p)

    def before_process_batch(self, p, **kwargs):
        self._each("before_process_batch", p, **kwargs)

    def process_batch(self, p, **kwargs):
        self._each("process_batch", p, **kwargs)

    def postprocess_image(self, p, pp: PostprocessImageArgs):
        self._each("postprocess_image", p, pp)

    def postprocess(self, p, processed):
        self._each("postprocess", p, processed)
