"""Typed options: the one object that flows from the CLI, units files, the HTTP API and the
web-ui into `pipeline.swap_image`.

Field names are the CLI flag names with underscores, so a units file, an API request and a
command line all say the same thing. `from_dict` rejects unknown names (naming them) so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import OptionsError

SORT_ORDERS = ("left-right", "right-left", "top-bottom", "bottom-top", "large-small", "small-large", "best-worst")
GENDERS = ("any", "female", "male", "same")
MASK_REGION_NAMES = ("skin", "brows", "eyes", "glasses", "nose", "mouth", "lips", "ears", "hair")
BOOST_FACTORS = (1, 2, 4)
NSFW_THRESHOLD_RANGE = (0.3, 0.9)


def _in_range(name: str, value: float, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise OptionsError(f"{name} must be a number between {lo} and {hi}, got {value!r}") from None
    if not (lo <= v <= hi):
        raise OptionsError(f"{name} must be between {lo} and {hi}, got {v}")
    return v


def parse_faces(value: Any) -> tuple[int, ...] | None:
    """`"all"` -> None (every face); `"0,2"`, `[0, 2]` or `1` -> a tuple of indices."""
    if value is None:
        return (0,)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("all", "*"):
            return None
        if not text:
            raise OptionsError("faces must be 'all' or a list of face indices like '0,2'")
        parts = [p.strip() for p in text.split(",") if p.strip()]
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [str(value)]
    elif isinstance(value, (list, tuple)):
        parts = [str(p) for p in value]
    else:
        raise OptionsError(f"faces must be 'all' or a list of face indices like '0,2', got {value!r}")
    out: list[int] = []
    for p in parts:
        try:
            i = int(p)
        except ValueError:
            raise OptionsError(f"faces: {p!r} is not a face index (use 'all' or numbers like '0,2')") from None
        if i < 0:
            raise OptionsError(f"faces: indices start at 0, got {i}")
        if i not in out:
            out.append(i)
    return tuple(out)


def format_faces(faces: tuple[int, ...] | None) -> str:
    return "all" if faces is None else ",".join(str(i) for i in faces)


@dataclass(frozen=True)
class EnhanceOptions:
    """Per-unit quality options, applied in aligned space before the single warp back."""

    boost: int = 1
    restorer: str | None = None
    restorer_visibility: float = 1.0
    codeformer_weight: float = 0.5
    upscale: str | None = None
    parser: str | None = None
    mask_regions: tuple[str, ...] = ()
    keep_mouth: bool = False
    color_correction: float = 0.0
    sharpen: float = 0.0

    def __post_init__(self) -> None:
        try:
            boost = int(self.boost)
        except (TypeError, ValueError):
            raise OptionsError(f"boost must be 1, 2 or 4, got {self.boost!r}") from None
        if boost not in BOOST_FACTORS:
            raise OptionsError(f"boost must be 1, 2 or 4, got {self.boost!r}")
        object.__setattr__(self, "boost", boost)
        for name in ("restorer_visibility", "codeformer_weight", "color_correction", "sharpen"):
            object.__setattr__(self, name, _in_range(name, getattr(self, name), 0.0, 1.0))
        regions = self.mask_regions
        if isinstance(regions, str):
            regions = tuple(r.strip() for r in regions.split(",") if r.strip())
        regions = tuple(str(r).strip().lower() for r in (regions or ()))
        unknown = [r for r in regions if r not in MASK_REGION_NAMES]
        if unknown:
            raise OptionsError(
                f"mask_regions: unknown region(s) {', '.join(unknown)}; choose from {', '.join(MASK_REGION_NAMES)}"
            )
        object.__setattr__(self, "mask_regions", regions)
        for name in ("restorer", "upscale", "parser"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v.strip() or v.strip().lower() == "none"):
                object.__setattr__(self, name, None)
        object.__setattr__(self, "keep_mouth", bool(self.keep_mouth))
        if self.keep_mouth and self.parser is None:
            raise OptionsError("keep_mouth needs a face parser: set parser (a file in <models dir>/parsers/)")
        if self.mask_regions and self.parser is None:
            raise OptionsError("mask_regions needs a face parser: set parser (a file in <models dir>/parsers/)")

    @property
    def active(self) -> bool:
        return self != EnhanceOptions()


@dataclass(frozen=True)
class UnitOptions:
    """One identity swapped into the selected faces of the target."""

    enabled: bool = True
    source_images: tuple[Any, ...] = ()  # paths, PIL images or RGB numpy arrays
    face: str | None = None  # a face checkpoint name or path
    source_face_index: int = 0
    faces: tuple[int, ...] | None = (0,)  # None means every face
    sort: str = "left-right"
    gender: str = "any"
    reference_image: Any = None
    reference_threshold: float = 0.5
    min_similarity: float = 0.0
    min_face_size: int = 16  # shorter box side in pixels; smaller faces are skipped with a reason
    mask_erosion: float = 0.1  # fraction of the face size
    mask_blur: float = 0.1  # fraction of the face size
    enhance: EnhanceOptions = field(default_factory=EnhanceOptions)

    def __post_init__(self) -> None:
        srcs = self.source_images
        if srcs is None:
            srcs = ()
        elif isinstance(srcs, (str, bytes)) or not isinstance(srcs, (list, tuple)):
            srcs = (srcs,)
        object.__setattr__(self, "source_images", tuple(srcs))
        object.__setattr__(self, "faces", parse_faces(self.faces) if not _is_faces_tuple(self.faces) else self.faces)
        if self.sort not in SORT_ORDERS:
            raise OptionsError(f"sort must be one of {', '.join(SORT_ORDERS)}, got {self.sort!r}")
        if self.gender not in GENDERS:
            raise OptionsError(f"gender must be one of {', '.join(GENDERS)}, got {self.gender!r}")
        try:
            idx = int(self.source_face_index)
        except (TypeError, ValueError):
            raise OptionsError(f"source_face_index must be a whole number, got {self.source_face_index!r}") from None
        if idx < 0:
            raise OptionsError(f"source_face_index starts at 0, got {idx}")
        object.__setattr__(self, "source_face_index", idx)
        for name in ("reference_threshold", "min_similarity"):
            object.__setattr__(self, name, _in_range(name, getattr(self, name), 0.0, 1.0))
        for name in ("mask_erosion", "mask_blur"):
            object.__setattr__(self, name, _in_range(name, getattr(self, name), 0.0, 0.5))
        try:
            object.__setattr__(self, "min_face_size", int(self.min_face_size))
        except (TypeError, ValueError):
            raise OptionsError(f"min_face_size must be a whole number of pixels, got {self.min_face_size!r}") from None
        if self.face is not None and not str(self.face).strip():
            object.__setattr__(self, "face", None)
        if not isinstance(self.enhance, EnhanceOptions):
            raise OptionsError("enhance must be an EnhanceOptions")

    @property
    def has_source(self) -> bool:
        return bool(self.source_images) or self.face is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "unit") -> "UnitOptions":
        """Build a unit from named fields (units file, HTTP API); unknown names are an error."""
        if not isinstance(data, Mapping):
            raise OptionsError(f"{where} must be an object with named fields, got {type(data).__name__}")
        data = dict(data)
        if "checkpoint" in data:  # the HTTP API's name for --face
            if data.get("face") not in (None, "") and data["checkpoint"] not in (None, ""):
                raise OptionsError(f"{where}: give either 'face' or 'checkpoint', not both")
            ck = data.pop("checkpoint")
            if ck not in (None, ""):
                data["face"] = ck
        if "source" in data:  # the CLI's --source
            data["source_images"] = data.pop("source")
        unit_names = {f.name for f in dataclasses.fields(cls)} - {"enhance"}
        enh_names = {f.name for f in dataclasses.fields(EnhanceOptions)}
        unknown = sorted(k for k in data if k not in unit_names and k not in enh_names and k != "enhance")
        if unknown:
            raise OptionsError(
                f"{where}: unknown field(s) {', '.join(unknown)}; known fields: "
                f"{', '.join(sorted(unit_names | enh_names))}"
            )
        enh_data = dict(data.pop("enhance", None) or {})
        for k in list(data):
            if k in enh_names:
                enh_data[k] = data.pop(k)
        try:
            enhance = EnhanceOptions(**enh_data)
            return cls(enhance=enhance, **data)
        except OptionsError as e:
            raise OptionsError(f"{where}: {e.message}") from None
        except TypeError as e:
            raise OptionsError(f"{where}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """Named fields as JSON-friendly values (images are described, never embedded)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "enhance":
                continue
            out[f.name] = getattr(self, f.name)
        out["faces"] = format_faces(self.faces)
        out["source_images"] = [_describe(s) for s in self.source_images]
        out["reference_image"] = None if self.reference_image is None else _describe(self.reference_image)
        out.update({f.name: getattr(self.enhance, f.name) for f in dataclasses.fields(self.enhance)})
        out["mask_regions"] = list(self.enhance.mask_regions)
        return out


def _is_faces_tuple(v: Any) -> bool:
    return v is None or (isinstance(v, tuple) and all(isinstance(i, int) and i >= 0 for i in v) and len(v) > 0)


def _describe(img: Any) -> str:
    if isinstance(img, str):
        return img
    if hasattr(img, "__fspath__"):
        return str(img)
    shape = getattr(img, "shape", None) or getattr(img, "size", None)
    return f"<{type(img).__name__} {shape}>"


@dataclass(frozen=True)
class EngineOptions:
    """Process-wide settings: where models are, how detection runs, which providers."""

    models_dir: str | None = None
    det_size: int = 640
    det_thresh: float = 0.5
    det_retry: bool = True  # retry at a smaller det_size when nothing is found
    providers: tuple[str, ...] = ("cpu",)
    threads: int = 0  # 0: ONNX Runtime's default
    nsfw_threshold: float = 0.5
    swapper: str = "inswapper_128.onnx"
    faces_dir: str | None = None  # checkpoint folder; None: <models dir>/faces/

    def __post_init__(self) -> None:
        try:
            det = int(self.det_size)
        except (TypeError, ValueError):
            raise OptionsError(f"det_size must be a multiple of 32 between 160 and 2048, got {self.det_size!r}") from None
        if det < 160 or det > 2048 or det % 32:
            raise OptionsError(f"det_size must be a multiple of 32 between 160 and 2048, got {det}")
        object.__setattr__(self, "det_size", det)
        object.__setattr__(self, "det_thresh", _in_range("det_thresh", self.det_thresh, 0.1, 0.99))
        lo, hi = NSFW_THRESHOLD_RANGE
        object.__setattr__(self, "nsfw_threshold", _in_range("nsfw_threshold", self.nsfw_threshold, lo, hi))
        provs = self.providers
        if isinstance(provs, str):
            provs = tuple(p.strip() for p in provs.split(",") if p.strip())
        object.__setattr__(self, "providers", tuple(provs) or ("cpu",))
        try:
            threads = int(self.threads)
        except (TypeError, ValueError):
            raise OptionsError(f"threads must be a whole number (0 = automatic), got {self.threads!r}") from None
        if threads < 0 or threads > 256:
            raise OptionsError(f"threads must be between 0 (automatic) and 256, got {threads}")
        object.__setattr__(self, "threads", threads)
        name = str(self.swapper)
        if not name.endswith(".onnx"):
            raise OptionsError(f"swapper must name an .onnx file, got {name!r}")
        object.__setattr__(self, "swapper", name)

    def replace(self, **changes: Any) -> "EngineOptions":
        return dataclasses.replace(self, **changes)
