"""What the web-ui's generation job does with the swap: into img2img's source, into the
generated images, and whether the unswapped originals are kept. Shown in the accordion and
accepted by the named alwayson form. Also how output files are encoded (OutputOptions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .meta import CLI, UI, check_known, option, options_of, validate

# zlib level of written PNGs. 1, not Pillow's 6: a 2048 px photo encodes ~4x faster
# (bench/results/speed-*.txt: ~0.3 s instead of ~1.3 s) for a file ~15% larger.
DEFAULT_PNG_COMPRESSION = 1


@dataclass(frozen=True)
class JobOptions:
    # fmt: off
    swap_in_source: bool = option(False, label="img2img: swap into the source image before generation", group="job",
                                  fronts=(UI,))
    swap_in_generated: bool = option(True, label="Swap in generated images", group="job", fronts=(UI,))
    keep_originals: bool = option(False, label="Keep the unswapped originals too (placed after the swapped images)",
                                  group="job", fronts=(UI,))
    # fmt: on

    def __post_init__(self) -> None:
        validate(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "options") -> "JobOptions":
        data = dict(data or {})
        check_known(data, [o.name for o in options_of(cls)], where)
        return cls(**{k: v for k, v in data.items() if v is not None})


@dataclass(frozen=True)
class OutputOptions:
    """How output images are encoded (PNG only; JPEG/WebP quality is a job option)."""

    # fmt: off
    png_compression: int = option(DEFAULT_PNG_COMPRESSION, label="PNG compression level", group="output",
                                  fronts=(CLI,), minimum=0, maximum=9, step=1, metavar="N",
                                  help="zlib level of PNG outputs: 0 stores, 9 is smallest and slowest; "
                                       "the same pixels and metadata at every level")
    # fmt: on

    def __post_init__(self) -> None:
        validate(self)
