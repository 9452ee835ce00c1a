"""Swapper kinds: the facts a swap needs about each swapper model, one row per kind.

Why rows: every swapper has the same outer shape (`target` [1,3,S,S] and `source` [1,512]
in, [1,3,S,S] out) and differs only in facts (crop side, alignment template, pixel scaling
in and out, how the identity becomes `source`). With those facts in a row, the one swapper
wrapper (swap/swapper.py), the boost, the masks and the restoration path read the row, and a
new model is a new row. Which file runs as which kind is the registry's business
(registry.swapper_kind_for). Pure data: importing it reads no file.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    swaps in the wrong face, so the row must say which.

    `raw`: the encoding starts from the raw-scale ArcFace embedding (the recogniser's output
    before L2 normalisation, as ghost's, simswap's and hififace's converters were trained on)
    instead of the normalised one. `emap_optional`: an EMAP kind whose files may lack the emap
    (ReSwapper exports): then the normalised embedding goes in as it is."""

    method: str = EMAP
    converter: str | None = None  # the converter's file at the models-dir root (CONVERTER only)
    normalise: bool = True  # L2-normalise the result
    raw: bool = False
    emap_optional: bool = False


@dataclass(frozen=True)
class SwapperKind:
    """One swapper kind: the facts the swap path reads (nothing else knows a model's size).

    `family` is what `--swapper-type` names (a family may come in several sizes: the file's
    signature picks the row). `template` names a five-point alignment in units of the crop
    side (geometry.TEMPLATES), so the crop at `size * boost` px is the same alignment scaled.
    `target_input`, `source_input` and `output` are the tensor names (a re-export with other
    names is read by position: target first)."""

    name: str
    family: str
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


HALF_RANGE = PixelNorm((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # (x - 0.5) / 0.5 in, y * 0.5 + 0.5 out
IMAGENET = PixelNorm((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

# Layouts as FaceFusion 3.8.1's face swapper and the ReSwapper README declare them.
SWAPPER_KINDS: tuple[SwapperKind, ...] = (
    SwapperKind(
        name="inswapper_128", family="inswapper", size=128, template="arcface_128",
        source=SourceEncoding(EMAP, normalise=True),
        description="insightface inswapper (also its fp16 export: the precision is read from the file)",
    ),
    SwapperKind(
        name="reswapper_128", family="reswapper", size=128, template="arcface_128",
        source=SourceEncoding(EMAP, normalise=True, emap_optional=True),
        description="ReSwapper, inswapper's layout retrained (reads the file's emap when it has one)",
    ),
    SwapperKind(
        name="reswapper_256", family="reswapper", size=256, template="arcface_128",
        source=SourceEncoding(EMAP, normalise=True, emap_optional=True),
        description="ReSwapper at 256 px (inswapper's layout and alignment, scaled)",
    ),
    SwapperKind(
        name="hyperswap_256", family="hyperswap", size=256, template="arcface_128",
        target_norm=HALF_RANGE, output_norm=HALF_RANGE, source=SourceEncoding(EMBEDDING, normalise=True),
        description="FaceFusion's HyperSwap 1a/1b/1c at 256 px",
    ),
    SwapperKind(
        name="ghost_256", family="ghost", size=256, template="arcface_112_v1",
        target_norm=HALF_RANGE, output_norm=HALF_RANGE,
        source=SourceEncoding(CONVERTER, converter="crossface_ghost.onnx", normalise=False, raw=True),
        description="ai-forever's GHOST (sber-swap) 1/2/3-block U-Nets at 256 px",
    ),
    SwapperKind(
        name="simswap_256", family="simswap", size=256, template="arcface_112_v1",
        target_norm=IMAGENET, output_norm=UNIT_RANGE,
        source=SourceEncoding(CONVERTER, converter="crossface_simswap.onnx", normalise=True, raw=True),
        description="SimSwap at 256 px (ImageNet-normalised input, 0..1 output)",
    ),
    SwapperKind(
        name="simswap_512", family="simswap", size=512, template="arcface_112_v1",
        source=SourceEncoding(CONVERTER, converter="crossface_simswap.onnx", normalise=True, raw=True),
        description="the unofficial SimSwap 512 export",
    ),
    SwapperKind(
        name="hififace_256", family="hififace", size=256, template="mtcnn_512",
        target_norm=HALF_RANGE, output_norm=HALF_RANGE,
        source=SourceEncoding(CONVERTER, converter="crossface_hififace.onnx", normalise=True, raw=True),
        description="the unofficial HifiFace 256 export",
    ),
)  # fmt: skip
DEFAULT_SWAPPER_KIND = "inswapper_128"
DEFAULT_SWAPPER = "inswapper_128.onnx"
SWAPPER_FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(k.family for k in SWAPPER_KINDS))
SWAPPER_SIZES: tuple[int, ...] = tuple(sorted({k.size for k in SWAPPER_KINDS}))
# The norm of a typical raw w600k_r50 embedding of a well-lit frontal face: v1 checkpoints
# stored only the normalised embedding, and kinds fed the raw scale get it times this.
TYPICAL_RAW_NORM = 20.0


def swapper_kind(name: str) -> SwapperKind | None:
    key = name.strip().lower()
    return next((k for k in SWAPPER_KINDS if k.name == key), None)


def kinds_of_size(size: int) -> list[SwapperKind]:
    return [k for k in SWAPPER_KINDS if k.size == size]


def layout_of(k: SwapperKind) -> tuple:
    return (k.template, k.target_norm, k.output_norm, k.source.method, k.source.converter, k.source.raw)


def default_kind() -> SwapperKind:
    kind = swapper_kind(DEFAULT_SWAPPER_KIND)
    assert kind is not None, "DEFAULT_SWAPPER_KIND names a row of SWAPPER_KINDS"
    return kind
