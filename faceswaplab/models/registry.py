"""The registry of model files FaceSwapLab knows by name: where each one lives inside the
models directory, what it is, where it can be fetched, and how to recognise the real file;
and the swapper kinds, the facts a swap needs about each swapper model.

Why a registry: a missing or damaged model must produce one message naming the file, its
checksum and the command that fetches it, and `models download` must be able to verify what
it fetched. A sha256 or size is recorded only where a public source states it (cited next to
the value); where none was found the field is None and the file can only be "custom".

Why swapper kinds are rows: every swapper has the same outer shape (`target` [1,3,S,S] and
`source` [1,512] in, [1,3,S,S] out) and differs only in facts (crop side, alignment
template, pixel scaling in and out, how the identity becomes `source`). With those facts in
a row, the one swapper wrapper (swap/swapper.py), the boost, the masks and the restoration
path read the row, and a new model is a new row.

This module is pure data: importing it reads no file and touches no network.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionsError

# Kinds of model file. The signature each kind must have is checked in `signature.py`;
# EXPECTED_SIGNATURES below is the human wording used in messages.
SWAPPER = "swapper"
DETECTOR = "detector"
RECOGNITION = "recognition"
GENDERAGE = "genderage"
LANDMARK = "landmark"
RESTORER = "restorer"
PARSER = "parser"
FACE = "face"  # face checkpoints (.safetensors), not ONNX: listed, never signature-checked

MODEL_KINDS: tuple[str, ...] = (SWAPPER, DETECTOR, RECOGNITION, GENDERAGE, LANDMARK, RESTORER, PARSER)

# --- Swapper kinds -------------------------------------------------------------------------


@dataclass(frozen=True)
class PixelNorm:
    """How a model sees RGB pixels: x = value / 255 goes in as (x - mean) / std, and what
    comes out is read back as y * std + mean (then times 255). The default is plain 0..1."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def is_unit(self) -> bool:
        return self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0)


UNIT_RANGE = PixelNorm()  # x / 255 in, 0..1 out (inswapper)

# How the source identity (an L2-normalised ArcFace embedding) becomes the `source` tensor.
EMAP = "emap"  # normalise(embedding @ emap), emap = the swapper file's last initializer (512x512)
EMBEDDING = "embedding"  # the embedding itself
CONVERTER = "converter"  # a converter model file ([1,512] -> [1,512]) applied to the embedding
SOURCE_METHODS = (EMAP, EMBEDDING, CONVERTER)


@dataclass(frozen=True)
class SourceEncoding:
    """Models were trained on different identity vectors (a projected latent, the plain
    embedding, a converter's output, normalised or not); feeding another one still runs but
    swaps in the wrong face, so the row must say which."""

    method: str = EMAP
    converter: str | None = None  # the converter's file at the models-dir root (CONVERTER only)
    normalise: bool = True  # L2-normalise the result


@dataclass(frozen=True)
class SwapperKind:
    """One swapper kind: the facts the swap path reads (nothing else knows a model's size).

    `template` names a five-point alignment in units of the crop side (geometry.TEMPLATES),
    so the crop at `size * boost` px is the same alignment scaled. `target_input`,
    `source_input` and `output` are the tensor names (a re-export with other names is read by
    position: target first)."""

    name: str
    size: int
    template: str
    target_norm: PixelNorm = UNIT_RANGE
    output_norm: PixelNorm = UNIT_RANGE
    source: SourceEncoding = SourceEncoding()
    target_input: str = "target"
    source_input: str = "source"
    output: str = "output"
    description: str = ""

    def crop_size(self, boost: int = 1) -> int:
        return self.size * int(boost)


SWAPPER_KINDS: tuple[SwapperKind, ...] = (
    SwapperKind(
        name="inswapper_128",
        size=128,
        template="arcface_128",
        source=SourceEncoding(EMAP, normalise=True),
        description="insightface inswapper (also its fp16 export: the precision is read from the file)",
    ),
)
DEFAULT_SWAPPER_KIND = "inswapper_128"
SWAPPER_SIZES: tuple[int, ...] = tuple(sorted({k.size for k in SWAPPER_KINDS}))


def _swapper_signature() -> str:
    if len(SWAPPER_SIZES) == 1:
        s = SWAPPER_SIZES[0]
        return f"2 inputs: target [1,3,{s},{s}] and source [1,512]; 1 output [1,3,{s},{s}]"
    sizes = ", ".join(map(str, SWAPPER_SIZES))
    return f"2 inputs: target [1,3,S,S] and source [1,512]; 1 output [1,3,S,S] (S = {sizes})"


EXPECTED_SIGNATURES: dict[str, str] = {
    SWAPPER: _swapper_signature(),
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
        description="insightface inswapper 128 (non-commercial research licence)",
        swapper_kind="inswapper_128",
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
    ),
    ModelSpec(
        name="buffalo_l/det_10g.onnx",
        kind=DETECTOR,
        url=_BUFFALO_MIRROR + "det_10g.onnx",
        sha256="5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91",  # [REACTOR]
        size=16_923_827,  # [DLC]
        required=True,
        archive="buffalo_l.zip",
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
        description="68-point 3D landmarks (buffalo_l)",
    ),
)

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


def swapper_kind(name: str) -> SwapperKind | None:
    key = name.strip().lower()
    return next((k for k in SWAPPER_KINDS if k.name == key), None)


def swapper_kind_for(filename: str, declared: str | None = None) -> SwapperKind:
    """The kind that runs a swapper file: `declared` (the user's --swapper-type) wins, then
    the registry's row for a known file name, then the default kind (while one kind is
    known, every file that passes the swapper signature check is of that kind).
    Raises OptionsError for an unknown declared kind."""
    if declared:
        kind = swapper_kind(declared)
        if kind is None:
            known = ", ".join(k.name for k in SWAPPER_KINDS)
            raise OptionsError(f"unknown swapper type {declared!r}; known: {known}")
        return kind
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    spec = next((s for s in KNOWN_MODELS if s.kind == SWAPPER and s.filename == base), None)
    kind = swapper_kind(spec.swapper_kind) if spec is not None and spec.swapper_kind else None
    return kind or _default_kind()


def _default_kind() -> SwapperKind:
    kind = swapper_kind(DEFAULT_SWAPPER_KIND)
    assert kind is not None, "DEFAULT_SWAPPER_KIND names a row of SWAPPER_KINDS"
    return kind
