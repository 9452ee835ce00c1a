"""Stand-in for modules/scripts_postprocessing.py (v1.10.1): `PostprocessedImage(image)` with
`.image` and `.info` (dict), `ScriptPostprocessing` (`name`, `order` = 1000, `ui()` -> dict of
name -> component, `process(pp: PostprocessedImage, **args)`, `image_changed()`), and the
runner's `create_args_for_run`: every control of a script the request does not name gets
None, so through the Extras API an extension's kwargs all arrive as None."""


class PostprocessedImage:
    def __init__(self, image):
        self.image = image
        self.info = {}


class ScriptPostprocessing:
    filename = None
    controls = None
    args_from = None
    args_to = None
    order = 1000
    name = None
    group = None

    def ui(self):
        pass

    def process(self, pp: PostprocessedImage, **args):
        pass

    def image_changed(self):
        pass


def run_with_api_args(script, pp, control_names, scripts_args=None):
    """What the Extras API does for one script: each control's value from the request, else None."""
    given = (scripts_args or {}).get(script.name, None)
    args = {name: (given.get(name, None) if given is not None else None) for name in control_names}
    script.process(pp, **args)
