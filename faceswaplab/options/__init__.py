"""The option vocabulary: typed, frozen option dataclasses whose fields carry their metadata
(label, help, range or choices, widget, group, which front ends show them). Validation and
every front end (CLI flags, API models, gradio controls, the positional alwayson contract,
the web-ui settings) are generated from those fields, so each option is defined once.

- `unit`: UnitOptions (one identity into some faces) and EnhanceOptions (per-unit quality)
- `post`: PostOptions (whole-image restorer and upscaler after the swap)
- `engine`: EngineOptions (models, detection, providers)
- `job`: JobOptions (what a web-ui generation job swaps)
- `meta`: the metadata schema, `option()`, the validator
- `forms`: named/positional form values -> options (imported on its own: it reads images)
"""

from .engine import NSFW_THRESHOLD_RANGE, EngineOptions
from .job import JobOptions
from .meta import Meta, Option, format_faces, meta_of, option, options_of, parse_faces
from .post import PostOptions
from .unit import BOOST_FACTORS, GENDERS, MASK_REGION_NAMES, SORT_ORDERS, EnhanceOptions, UnitOptions
from .video import VideoOptions as VideoOptions  # the video job's options (faceswaplab/video)

__all__ = [
    "UnitOptions", "EnhanceOptions", "PostOptions", "EngineOptions", "JobOptions", "Meta", "Option", "option",
    "options_of", "meta_of", "parse_faces", "format_faces", "SORT_ORDERS", "GENDERS", "MASK_REGION_NAMES",
    "BOOST_FACTORS", "NSFW_THRESHOLD_RANGE",
]  # fmt: skip
