"""Process-wide engine settings: where models are, how detection runs, which providers.
Shown as CLI flags and on the web-ui's settings page."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..models.registry import DEFAULT_SWAPPER
from .meta import CLI, DROPDOWN, SETTINGS, TEXT, option, setattr_frozen, validate

NSFW_THRESHOLD_RANGE = (0.3, 0.9)
ROTATIONS = ("auto", "off")
_BOTH = (CLI, SETTINGS)


@dataclass(frozen=True)
class EngineOptions:
    """Process-wide settings: where models are, how detection runs, which providers."""

    # fmt: off
    models_dir: str | None = option(None, label="Models directory", group="engine", fronts=(CLI,), metavar="DIR",
                                    help="models directory (else $FACESWAPLAB_MODELS, else the per-user default)")
    det_size: int = option(640, label="Face detection size (det_size)", group="engine", fronts=_BOTH,
                           minimum=160, maximum=2048, step=32, metavar="N", help="detector input size")
    det_thresh: float = option(0.5, label="Face detection threshold (det_thresh)", group="engine", fronts=_BOTH,
                               minimum=0.1, maximum=0.99, step=0.01, metavar="X", help="detection score threshold")
    det_retry: bool = option(True, label="Auto det size: retry at a smaller size when no face is found",
                             group="engine", fronts=_BOTH, flag="no-det-retry",
                             help="do not retry at a smaller det size when no face is found")
    providers: tuple[str, ...] = option(("cpu",), label="Execution providers (those ONNX Runtime reports here)",
                                        group="engine", fronts=_BOTH, dynamic="providers", restart=True,
                                        metavar="LIST", help="execution providers, e.g. cuda,cpu")
    rotations: str = option("auto", label="Faces at any angle: retry detection on the image turned by 90/180/270",
                            group="engine", fronts=_BOTH, choices=ROTATIONS, metavar="MODE",
                            help="auto: when fewer faces are found than the units need, look again with the image "
                                 "turned by 90, 180 and 270 degrees; off: upright only")
    threads: int = option(0, label="ONNX Runtime threads (0: automatic)", group="engine", fronts=_BOTH,
                          minimum=0, maximum=256, step=1, restart=True, metavar="N",
                          help="ONNX Runtime intra-op threads (0: automatic)")
    nsfw_threshold: float = option(0.5, label="Content filter threshold (it cannot be switched off)", group="engine",
                                   fronts=_BOTH, minimum=NSFW_THRESHOLD_RANGE[0], maximum=NSFW_THRESHOLD_RANGE[1],
                                   step=0.01, metavar="X", help="content filter threshold")
    swapper: str = option("inswapper_128.onnx", label="Default swapper model (a unit may choose another)",
                          group="engine", fronts=(SETTINGS,), kind=DROPDOWN, dynamic="swappers", restart=True,
                          flag="default-swapper",
                          metavar="FILE", help="the swapper a unit uses when it names none")
    offline: bool = option(False, label="Offline: never download a missing model file (the error says what to fetch)",
                           group="engine", fronts=_BOTH,
                           help="never download a missing model file on first use (also FACESWAPLAB_OFFLINE=1); "
                                "the error then names the file and the command that fetches it")
    faces_dir: str | None = option(None, label="Face checkpoints directory (empty: <models dir>/faces)", group="engine",
                                   fronts=(SETTINGS,), kind=TEXT, setting="checkpoints_dir",
                                   help="the folder of face checkpoints")
    # fmt: on

    def __post_init__(self) -> None:
        validate(self)
        setattr_frozen(self, "providers", self.providers or ("cpu",))
        if not self.swapper.strip():
            setattr_frozen(self, "swapper", DEFAULT_SWAPPER)
        elif not self.swapper.lower().endswith(".onnx"):
            setattr_frozen(self, "swapper", self.swapper.strip() + ".onnx")

    def replace(self, **changes: Any) -> "EngineOptions":
        return dataclasses.replace(self, **changes)
