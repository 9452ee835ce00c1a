"""The registry of model files FaceSwapLab knows by name: where each one lives inside the
models directory, what it is, where it can be fetched, and how to recognise the real file;
and which swapper kind (models/swapper_kinds.py) runs each swapper file.

Why a registry: a missing or damaged model must produce one message naming the file, its
checksum and the command that fetches it, and `models download` must be able to verify what
it fetched. A sha256 or size is recorded only where a public source states it (cited next to
the value); where none was found the field is None and the file can only be "custom".

This module is pure data: importing it reads no file and touches no network.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionsError
from .swapper_kinds import (  # noqa: F401 - re-exported: the registry is where callers look
    PixelNorm,
    UNIT_RANGE,
    EMAP,
    EMBEDDING,
    CONVERTER,
    SOURCE_METHODS,
    SourceEncoding,
    SwapperKind,
    HALF_RANGE,
    IMAGENET,
    SWAPPER_KINDS,
    DEFAULT_SWAPPER_KIND,
    DEFAULT_SWAPPER,
    SWAPPER_FAMILIES,
    SWAPPER_SIZES,
    TYPICAL_RAW_NORM,
    swapper_kind,
    kinds_of_size,
    layout_of,
    default_kind,
)

# Kinds of model file. The signature each kind must have is checked in `signature.py`;
# EXPECTED_SIGNATURES below is the human wording used in messages.
SWAPPER = "swapper"
DETECTOR = "detector"
RECOGNITION = "recognition"
GENDERAGE = "genderage"
LANDMARK = "landmark"
RESTORER = "restorer"
PARSER = "parser"
OCCLUDER = "occluder"  # XSeg occlusion masks, in <models>/occluders/
CONVERTER_FILE = "converter"  # identity-embedding converters of some swapper kinds ([1,512] -> [1,512])
FACE = "face"  # face checkpoints (.safetensors), not ONNX: listed, never signature-checked

MODEL_KINDS: tuple[str, ...] = (SWAPPER, CONVERTER_FILE, DETECTOR, RECOGNITION, GENDERAGE, LANDMARK, RESTORER, PARSER, OCCLUDER)

def _swapper_signature() -> str:
    if len(SWAPPER_SIZES) == 1:
        s = SWAPPER_SIZES[0]
        return f"2 inputs: target [1,3,{s},{s}] and source [1,512]; 1 output [1,3,{s},{s}]"
    sizes = ", ".join(map(str, SWAPPER_SIZES))
    return f"2 inputs: target [1,3,S,S] and source [1,512]; 1 output [1,3,S,S] (S = {sizes})"


EXPECTED_SIGNATURES: dict[str, str] = {
    SWAPPER: _swapper_signature(),
    CONVERTER_FILE: "input [1,512]; output [1,512]",
    OCCLUDER: "input [1,256,256,3] (channels last, BGR, x/255); output [1,256,256,1] (1 = face visible)",
    DETECTOR: "one 4-D image input [1,3,H,W]; 5 or more outputs (scores, boxes, keypoints per stride)",
    RECOGNITION: "input [N,3,112,112]; output [N,512]",
    GENDERAGE: "input [N,3,96,96]; output [N,3]",
    LANDMARK: "input [N,3,192,192]; one or more outputs",
    RESTORER: "input [1,3,S,S] (S = 256, 512, 1024 or 2048), optional double input 'weight' [1]; "
    "output of the same shape",
    PARSER: "input [1,3,512,512]; output [1,19,512,512]",
}

# Users drop files of any name into these sub-folders of the models directory:
# kind -> (folder, file suffix).
FOLDER_KINDS: dict[str, tuple[str, str]] = {
    RESTORER: ("restorers", ".onnx"),
    PARSER: ("parsers", ".onnx"),
    OCCLUDER: ("occluders", ".onnx"),
    FACE: ("faces", ".safetensors"),
}


@dataclass(frozen=True)
class ModelSpec:
    """One known model file.

    `name` is its path relative to the models directory (always with '/'), e.g.
    'buffalo_l/det_10g.onnx'. `archive` names an ArchiveSpec the file can also be extracted
    from (the official insightface zip); `url` is a per-file source. `required` files are what
    `models download` fetches when no name is given.
    """

    name: str
    kind: str
    url: str | None
    sha256: str | None
    size: int | None
    required: bool
    archive: str | None = None
    description: str = ""
    swapper_kind: str | None = None  # SWAPPER files: the SwapperKind row that runs it
    licence: str = ""  # as the model's authors state it (shown by `models` and docs/models.md)

    @property
    def filename(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The sub-folder of the models directory ('' for the top level)."""
        return self.name.rsplit("/", 1)[0] if "/" in self.name else ""


@dataclass(frozen=True)
class ArchiveSpec:
    """A zip that contains several known files (members matched by file name only, so a
    zip with or without a top folder works; nothing else in it is ever extracted)."""

    name: str
    url: str
    sha256: str | None
    size: int | None
    folder: str  # where its members go, relative to the models directory


# --- Sources ---------------------------------------------------------------------------
# [REACTOR] https://github.com/Gourieff/comfyui-reactor-node README.md, section
#   "Models Hashsum" ("Safe-to-use models have the following hash"): SHA256 of
#   inswapper_128.onnx, 1k3d68.onnx, 2d106det.onnx, det_10g.onnx, genderage.onnx,
#   w600k_r50.onnx. inswapper_128's value is also the one in docs/DESIGN.md section 3.
# [DLC] A Deep-Live-Cam model downloader for https://huggingface.co/hacksider/deep-live-cam
#   (MODEL_SIZES, found in public source): byte sizes of inswapper_128.onnx (554253681),
#   inswapper_128_fp16.onnx (277680638) and the five buffalo_l files. The same sizes for
#   det_10g / w600k_r50 / 2d106det and inswapper_128 are repeated in other public manifests.
# [VISO] https://github.com/visomaster/VisoMaster app/processors/models_data.py: sha256
#   6d51a927... for inswapper_128.fp16.onnx; public manifests give the same sha256 and
#   size 277680638 for hacksider/deep-live-cam's inswapper_128_fp16.onnx.
# [BUFFALO_ZIP] sha256 and size (288,621,354 bytes) of the official
#   github.com/deepinsight/insightface releases v0.7 buffalo_l.zip as stated in several
#   public model-provenance manifests (e.g. pinned-model tables pairing that URL with
#   80ffe37d...); the release page itself states no checksum.
# Sizes/sha256 are only ever compared, never trusted blindly: a download whose sha256
# does not match is refused.

_NONCOMMERCIAL = "non-commercial research only (insightface)"
# [FF_ASSETS] FaceFusion publishes these files in github.com/facefusion/facefusion-assets
#   releases (models-3.0.0: ghost, simswap, hififace, crossface converters; models-3.1.0 and
#   3.2.0: xseg occluders; models-3.3.0: hyperswap); no sha256 is stated beside them, so those fields stay None ("custom").
_FF_300 = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/"
_FF_310 = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.1.0/"
_FF_320 = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.2.0/"
_FF_330 = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.3.0/"
_INSIGHTFACE_RELEASE = "https://github.com/deepinsight/insightface/releases/download/v0.7/"
# Per-file mirror of the insightface model packs on Hugging Face (revision pinned as used
# in public download scripts); files fetched from it are checked against [REACTOR] sha256.
_BUFFALO_MIRROR = (
    "https://huggingface.co/public-data/insightface/resolve/"
    "33c1063c49c785b7652d3fd529f86fa4f149392b/models/buffalo_l/"
)

KNOWN_ARCHIVES: tuple[ArchiveSpec, ...] = (
    ArchiveSpec(
        name="buffalo_l.zip",
        url=_INSIGHTFACE_RELEASE + "buffalo_l.zip",
        sha256="80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f",  # [BUFFALO_ZIP]
        size=288_621_354,  # [BUFFALO_ZIP]
        folder="buffalo_l",
    ),
)

KNOWN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="inswapper_128.onnx",
        kind=SWAPPER,
        url="https://github.com/facefusion/facefusion-assets/releases/download/models/inswapper_128.onnx",
        sha256="e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af",  # [REACTOR], DESIGN.md
        size=554_253_681,  # [DLC]
        required=True,
        description="insightface inswapper 128",
        swapper_kind="inswapper_128",
        licence=_NONCOMMERCIAL,
    ),
    ModelSpec(
        name="inswapper_128_fp16.onnx",
        kind=SWAPPER,
        url="https://huggingface.co/hacksider/deep-live-cam/resolve/main/inswapper_128_fp16.onnx",
        sha256="6d51a9278a1f650cffefc18ba53f38bf2769bf4bbff89267822cf72945f8a38b",  # [VISO]
        size=277_680_638,  # [DLC]
        required=False,
        description="half-precision export of inswapper 128 (optional)",
        swapper_kind="inswapper_128",
        licence=_NONCOMMERCIAL,
    ),
    ModelSpec(
        name="buffalo_l/det_10g.onnx",
        kind=DETECTOR,
        url=_BUFFALO_MIRROR + "det_10g.onnx",
        sha256="5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91",  # [REACTOR]
        size=16_923_827,  # [DLC]
        required=True,
        archive="buffalo_l.zip",
        licence=_NONCOMMERCIAL,
        description="SCRFD-10GF face detector (buffalo_l)",
    ),
    ModelSpec(
        name="buffalo_l/w600k_r50.onnx",
        kind=RECOGNITION,
        url=_BUFFALO_MIRROR + "w600k_r50.onnx",
        sha256="4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43",  # [REACTOR]
        size=174_383_860,  # [DLC]
        required=True,
        archive="buffalo_l.zip",
        licence=_NONCOMMERCIAL,
        description="ArcFace R50 identity embedding (buffalo_l)",
    ),
    ModelSpec(
        name="buffalo_l/genderage.onnx",
        kind=GENDERAGE,
        url=_BUFFALO_MIRROR + "genderage.onnx",
        sha256="4fde69b1c810857b88c64a335084f1c3fe8f01246c9a191b48c7bb756d6652fb",  # [REACTOR]
        size=1_322_532,  # [DLC]
        required=True,
        archive="buffalo_l.zip",
        licence=_NONCOMMERCIAL,
        description="gender and age (buffalo_l)",
    ),
    ModelSpec(
        name="buffalo_l/2d106det.onnx",
        kind=LANDMARK,
        url=_BUFFALO_MIRROR + "2d106det.onnx",
        sha256="f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf",  # [REACTOR]
        size=5_030_888,  # [DLC]
        required=True,
        archive="buffalo_l.zip",
        licence=_NONCOMMERCIAL,
        description="106-point 2D landmarks (buffalo_l)",
    ),
    ModelSpec(
        name="buffalo_l/1k3d68.onnx",
        kind=LANDMARK,
        url=_BUFFALO_MIRROR + "1k3d68.onnx",
        sha256="df5c06b8a0c12e422b2ed8947b8869faa4105387f199c477af038aa01f9a45cc",  # [REACTOR]
        size=143_607_619,  # [DLC]
        required=True,
        archive="buffalo_l.zip",
        licence=_NONCOMMERCIAL,
        description="68-point 3D landmarks (buffalo_l)",
    ),
)


def _swapper(file: str, kind: str, url: str | None, licence: str, description: str) -> ModelSpec:
    return ModelSpec(name=file, kind=SWAPPER, url=url, sha256=None, size=None, required=False,
                     description=description, swapper_kind=kind, licence=licence)  # fmt: skip


def _converter(file: str, licence: str, for_kind: str) -> ModelSpec:
    return ModelSpec(name=file, kind=CONVERTER_FILE, url=_FF_300 + file, sha256=None, size=None, required=False,
                     description=f"identity embedding converter for {for_kind}", licence=licence)  # fmt: skip


_GHOST = "Apache-2.0 (ai-forever sber-swap)"
_SIMSWAP = "non-commercial research only (SimSwap)"
OPTIONAL_SWAPPERS: tuple[ModelSpec, ...] = (
    _swapper("reswapper_128.onnx", "reswapper_128", None, "as its author states (ReSwapper)", "ReSwapper 128"),
    _swapper("reswapper_256.onnx", "reswapper_256", None, "as its author states (ReSwapper)", "ReSwapper 256"),
    *(
        _swapper(f"hyperswap_1{v}_256.onnx", "hyperswap_256", _FF_330 + f"hyperswap_1{v}_256.onnx",
                 "ResearchRAIL (FaceFusion)", f"HyperSwap 1{v} 256")
        for v in "abc"
    ),
    *(
        _swapper(f"ghost_{n}_256.onnx", "ghost_256", _FF_300 + f"ghost_{n}_256.onnx", _GHOST,
                 f"GHOST {n}-block 256 (needs crossface_ghost.onnx)")
        for n in (1, 2, 3)
    ),
    _swapper("simswap_256.onnx", "simswap_256", _FF_300 + "simswap_256.onnx", _SIMSWAP,
             "SimSwap 256 (needs crossface_simswap.onnx)"),
    _swapper("simswap_unofficial_512.onnx", "simswap_512", _FF_300 + "simswap_unofficial_512.onnx", _SIMSWAP,
             "SimSwap 512, unofficial (needs crossface_simswap.onnx)"),
    _swapper("hififace_unofficial_256.onnx", "hififace_256", _FF_300 + "hififace_unofficial_256.onnx",
             "as its author states (HifiFace, unofficial)", "HifiFace 256, unofficial (needs crossface_hififace.onnx)"),
    _converter("crossface_ghost.onnx", _GHOST, "ghost"),
    _converter("crossface_simswap.onnx", _SIMSWAP, "simswap"),
    _converter("crossface_hififace.onnx", "as its author states (HifiFace, unofficial)", "hififace"),
)  # fmt: skip
_XSEG = "GPL-3.0 (DeepFaceLab XSeg, as FaceFusion ships it)"
OCCLUDERS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(name=f"occluders/xseg_{n}.onnx", kind=OCCLUDER, url=(_FF_310 if n < 3 else _FF_320) + f"xseg_{n}.onnx",
              sha256=None, size=None, required=False, description=f"XSeg occlusion mask {n}", licence=_XSEG)  # fmt: skip
    for n in (1, 2, 3)
)
KNOWN_MODELS = KNOWN_MODELS + OPTIONAL_SWAPPERS + OCCLUDERS

ANALYSIS_PACK = "buffalo_l"


def spec_for(name: str, specs: tuple[ModelSpec, ...] | list[ModelSpec] = KNOWN_MODELS) -> ModelSpec | None:
    """The spec whose relative name is `name` ('\\' accepted for '/'), else None."""
    key = name.replace("\\", "/").strip("/")
    for spec in specs:
        if spec.name == key:
            return spec
    return None


def archive_for(name: str | None, archives: tuple[ArchiveSpec, ...] | list[ArchiveSpec] = KNOWN_ARCHIVES) -> ArchiveSpec | None:
    if not name:
        return None
    for arch in archives:
        if arch.name == name:
            return arch
    return None


def swapper_kind_for(filename: str, declared: str | None = None, size: int | None = None) -> SwapperKind:
    """The kind that runs a swapper file: `declared` (the user's --swapper-type: a family like
    'ghost' or a row name like 'ghost_256'; with a family the file's `size` picks the row),
    then the registry's row for a known file name, then the one kind of the file's size.
    Raises OptionsError when the kind cannot be told (several kinds share the size) or a
    declared kind is unknown or does not come in the file's size."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if declared:
        key = declared.strip().lower()
        kind = swapper_kind(key)
        if kind is None and key in SWAPPER_FAMILIES:
            rows = [k for k in SWAPPER_KINDS if k.family == key]
            kind = next((k for k in rows if size is None or k.size == size), None)
            if kind is None:
                sizes = ", ".join(str(k.size) for k in rows)
                raise OptionsError(f"{base} works at {size} px, but swapper type {key} comes in {sizes} px only")
        if kind is None:
            known = ", ".join(SWAPPER_FAMILIES)
            raise OptionsError(f"unknown swapper type {declared!r}; known: {known}")
        if size is not None and kind.size != size:
            raise OptionsError(f"{base} works at {size} px, but swapper type {kind.name} is {kind.size} px")
        return kind
    spec = next((s for s in KNOWN_MODELS if s.kind == SWAPPER and s.filename == base), None)
    kind = swapper_kind(spec.swapper_kind) if spec is not None and spec.swapper_kind else None
    if kind is not None:
        return kind
    rows = kinds_of_size(size) if size is not None else [default_kind()]
    if len({layout_of(k) for k in rows}) == 1:  # e.g. inswapper and reswapper at 128: one layout
        return rows[0]
    if not rows:
        raise OptionsError(f"{base}: no swapper kind works at {size} px (known sizes: {', '.join(map(str, SWAPPER_SIZES))})")
    families = ", ".join(dict.fromkeys(k.family for k in rows))
    raise OptionsError(
        f"{base} works at {size} px, which several swapper kinds share ({families}): "
        "say which with --swapper-type KIND (unit field swapper_type)"
    )


