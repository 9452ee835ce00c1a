"""Global post-processing: a step of the pipeline after every unit has swapped, on the whole
image. A restorer restores every face of the final image (in aligned space, one warp back
each), then an upscaler scales the whole image. Names are the engine's restorers and
upscalers (`lanczos`, `cubic`, ONNX restorers in <models dir>/restorers/, and what a host
registers, such as the web-ui's `webui:<name>`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ..errors import OptionsError
from .meta import check_known, option, options_of, validate

_UNIT = dict(minimum=0.0, maximum=1.0, step=0.01, metavar="X")


@dataclass(frozen=True)
class PostOptions:
    """Post-processing of the whole swapped image (runs only when something was swapped)."""

    FLAG_PREFIX: ClassVar[str] = "post-"  # --post-restorer, --post-scale, ...
    WHERE: ClassVar[str] = "postprocessing"  # the API's and the named form's key

    # fmt: off
    restorer: str | None = option(None, label="Face restorer (every face of the result)", group="post",
                                  dynamic="unit_restorers", metavar="NAME",
                                  help="restore every face of the result: an ONNX restorer in <models dir>/restorers/ "
                                       "or a registered one (web-ui: webui:<name>)")
    restorer_visibility: float = option(1.0, label="Restorer visibility", group="post", **_UNIT,
                                        help="blend of the restored faces over the result (0: off)")
    codeformer_weight: float = option(0.5, label="CodeFormer weight", group="post", **_UNIT,
                                      help="CodeFormer fidelity: 0 restores most, 1 stays closest to the input")
    upscaler: str | None = option(None, label="Upscaler (whole image)", group="post", dynamic="unit_upscalers",
                                  metavar="NAME", help="upscale the whole result: lanczos, cubic or a registered upscaler "
                                                       "(web-ui: webui:<name>)")
    scale: float = option(1.0, label="Upscale by", group="post", minimum=1.0, maximum=8.0, step=0.05, metavar="X",
                          help="upscale factor of the whole result")
    upscaler_visibility: float = option(1.0, label="Upscaler visibility", group="post", **_UNIT,
                                        help="blend of the upscaled image over a plain Lanczos enlargement")
    # fmt: on

    def __post_init__(self) -> None:
        validate(self, where=self.WHERE + ".")

    @property
    def restores(self) -> bool:
        return self.restorer is not None and self.restorer_visibility > 0

    @property
    def upscales(self) -> bool:
        return self.upscaler is not None and self.scale > 1.0 and self.upscaler_visibility > 0

    @property
    def active(self) -> bool:
        return self.restores or self.upscales

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = WHERE) -> "PostOptions":
        """Named fields (the API's `postprocessing`); None values mean the defaults."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise OptionsError(f"{where} must be an object with named fields, got {type(data).__name__}")
        check_known(dict(data), [o.name for o in options_of(cls)], where)
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {o.name: getattr(self, o.name) for o in options_of(type(self))}
