"""The documented Python API (docs/python.md): `faceswaplab.Engine(...)` and its four jobs.

A thin facade over engine.Engine and the same functions the CLI calls (pipeline.swap_image,
checkpoints.build_checkpoint, compare.compare_faces, extract.extract_faces), so a script gets
exactly what `faceswaplab swap --json` gets and there is no second code path to drift. It only
converts: keywords to EngineOptions, dict units to UnitOptions, and the result image back to the
caller's type (PIL in -> PIL out, numpy in -> numpy out, a path -> PIL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .engine import Engine as _CoreEngine
from .errors import OptionsError
from .options import EngineOptions, PostOptions, UnitOptions

Unit = UnitOptions


@dataclass
class SwapOutput:
    """What `Engine.swap` returns: the image in the caller's type and the --json report."""

    image: Any
    report: dict[str, Any]
    swapped: int = 0
    warnings: list[str] = field(default_factory=list)


def _unit(u: UnitOptions | Mapping[str, Any], i: int) -> UnitOptions:
    if isinstance(u, UnitOptions):
        return u
    if isinstance(u, Mapping):
        return UnitOptions.from_dict(u, where=f"unit {i + 1}")
    raise OptionsError(f"unit {i + 1}: give a faceswaplab.Unit or a dict of its fields, not {type(u).__name__}")


def _units(units: Any) -> list[UnitOptions]:
    if isinstance(units, (UnitOptions, Mapping)):
        units = [units]
    return [_unit(u, i) for i, u in enumerate(units)]


def _post(post: PostOptions | Mapping[str, Any] | None) -> PostOptions | None:
    if post is None or isinstance(post, PostOptions):
        return post
    if isinstance(post, Mapping):
        return PostOptions.from_dict(post)
    raise OptionsError(f"post: give a PostOptions or a dict of its fields, not {type(post).__name__}")


def _like_input(original: Any, rgb: Any, alpha: Any) -> Any:
    """numpy in -> numpy out (RGB, or RGBA when the input had 4 channels); anything else -> PIL."""
    import numpy as np

    if isinstance(original, np.ndarray):
        if alpha is not None and original.ndim == 3 and original.shape[2] == 4:
            return np.dstack([rgb, alpha])
        return rgb
    from .imageio.save import to_pil

    return to_pil(rgb, alpha)


class Engine:
    """Loads nothing until the first job; models are kept (per process) and reused. Safe to
    share between threads: the core engine guards its lazy state and sessions are shared."""

    def __init__(self, models_dir: str | None = None, providers: Sequence[str] | str | None = None,
                 threads: int | None = None, **options: Any) -> None:
        if models_dir is not None:
            options["models_dir"] = str(models_dir)
        if providers is not None:
            options["providers"] = tuple(p.strip() for p in providers.split(",")) if isinstance(providers, str) else tuple(providers)
        if threads is not None:
            options["threads"] = int(threads)
        names = {f for f in EngineOptions.__dataclass_fields__}
        unknown = sorted(set(options) - names)
        if unknown:
            raise OptionsError(f"Engine: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        self.core = _CoreEngine(EngineOptions(**options))

    @property
    def options(self) -> EngineOptions:
        return self.core.options

    def swap(self, image: Any, units: Any, post: PostOptions | Mapping[str, Any] | None = None) -> SwapOutput:
        """Swap `units` (Unit objects or dicts, one or a list) into `image` (path, PIL, numpy RGB).
        Nothing swapped is not an error: `report` says why and `image` is the input unchanged."""
        from .pipeline import preflight, swap_image

        unit_list, post_opts = _units(units), _post(post)
        preflight(self.core, unit_list, post_opts)
        result = swap_image(image, unit_list, post_opts, engine=self.core)
        report = result.report
        data = report.to_dict()
        data["warnings"] = list(dict.fromkeys(report.warnings))
        return SwapOutput(_like_input(image, result.image.rgb, result.image.alpha), data, report.swapped, data["warnings"])

    def build_checkpoint(self, name: str, images: Sequence[Any], **kwargs: Any) -> Any:
        """Build and save a face checkpoint from photos (checkpoints.build_checkpoint's keywords:
        output_dir, face_index, gender, blend_method, overwrite, preview). Returns its BuildResult."""
        from .checkpoints.build import build_checkpoint

        if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
            images = [images]
        return build_checkpoint(self.core, list(images), name, **kwargs)

    def compare(self, a: Any, b: Any, *, index_a: int = 0, index_b: int = 0) -> float:
        """Cosine similarity of two faces (images or checkpoint names)."""
        from .compare import compare_faces

        return compare_faces(self.core, a, b, index_a=index_a, index_b=index_b).similarity

    def extract(self, image: Any, **kwargs: Any) -> list[Any]:
        """Every face of `image`, left to right, as a crop (PIL for PIL/path input, numpy for
        numpy): extract.extract_faces's keywords aligned_size, margin, min_face_size."""
        from .extract import extract_faces

        return [_like_input(image, f.rgb, None) for f in extract_faces(self.core, image, **kwargs)]


__all__ = ["Engine", "Unit", "SwapOutput", "PostOptions"]
