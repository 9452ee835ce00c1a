"""Dataset captions: the trigger word from a template, optionally followed by what a host's
captioner says about the image (the web-ui's BLIP interrogator or its DeepBooru tagger).

LoRA training learns much better from real captions than from a bare trigger word, and the
web-ui already carries both models, so a dataset built there can use them; outside it only
the template exists. A host captioner is loaded on the first kept image and freed when the
job ends (as the host's own interrogator does), and a caption that fails falls back to the
template with a per-image note, so one bad image never stops a dataset.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import OptionsError

if TYPE_CHECKING:
    from ..engine import Engine
    from ..report import SwapReport

log = logging.getLogger("faceswaplab")

CAPTION_MODES = ("trigger", "blip", "deepbooru", "trigger+blip", "trigger+deepbooru")
HOST_CAPTIONERS = ("blip", "deepbooru")
GENDER_WORDS = {"female": "woman", "male": "man"}


@runtime_checkable
class Captioner(Protocol):
    """A host's image captioner. `begin` loads its model, `end` frees it; `caption` gets an
    H x W x 3 RGB uint8 image and returns one line of text."""

    name: str

    def begin(self) -> None: ...

    def caption(self, rgb: np.ndarray) -> str: ...

    def end(self) -> None: ...


def host_part(mode: str) -> str | None:
    """The host captioner a mode needs ("trigger+blip" -> "blip"), None for "trigger"."""
    part = mode.split("+")[-1]
    return part if part in HOST_CAPTIONERS else None


def check(engine: "Engine", mode: str) -> None:
    """Before the job: a host captioner outside the web-ui is one clear error (exit 2)."""
    part = host_part(mode)
    if part is not None and part not in (getattr(engine, "captioners", None) or {}):
        raise OptionsError(
            f"caption {mode!r} needs the web-ui's {'BLIP interrogator' if part == 'blip' else 'DeepBooru tagger'}; "
            "outside the web-ui use caption 'trigger' with --caption-template (fields {trigger}, {name}, {gender})"
        )


def gender_word(engine: "Engine", rgb: np.ndarray, report: "SwapReport | None") -> str:
    """woman / man for the swapped face: from the report when the attribute model ran, else
    from one analysis of the result (only when a template asks for {gender})."""
    for u in report.units if report is not None else []:
        for f in u.faces:
            if f.status == "swapped" and f.gender in GENDER_WORDS:
                return GENDER_WORDS[f.gender]
    _, faces = engine.analyse(rgb, what="result", attributes=True)
    if faces:
        face = max(faces, key=lambda f: float((f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1])))
        return GENDER_WORDS.get(face.gender or "", "person")
    return "person"


class Captions:
    """The captions of one dataset job (thread-safe: batch workers share it)."""

    def __init__(self, engine: "Engine", mode: str, template: str, trigger: str) -> None:
        check(engine, mode)
        self.engine, self.mode, self.template, self.trigger = engine, mode, template, trigger
        part = host_part(mode)
        self.captioner: Any = engine.captioners[part] if part else None
        self._lock = threading.Lock()
        self._begun = False
        self._load_error: str | None = None

    def _template_text(self, name: str, rgb: np.ndarray, report: "SwapReport | None") -> str:
        fields: dict[str, str] = {"trigger": self.trigger, "name": name}
        if "{gender}" in self.template:
            fields["gender"] = gender_word(self.engine, rgb, report)
        return self.template.format(**fields)

    def text_for(self, name: str, rgb: np.ndarray, report: "SwapReport | None") -> tuple[str, str | None]:
        """(caption, note): the note says why a host caption fell back to the template."""
        base = self._template_text(name, rgb, report)
        if self.captioner is None:
            return base, None
        try:
            with self._lock:
                if not self._begun:
                    self._begun = True
                    try:
                        self.captioner.begin()
                    except Exception as e:
                        self._load_error = f"{type(e).__name__}: {e}"
                        log.warning("FaceSwapLab: could not load the %s model: %s", self.captioner.name, e)
                if self._load_error is not None:  # loading failed once: not retried per image
                    return base, f"{self.captioner.name} could not be loaded ({self._load_error}); used the template"
                text = " ".join(str(self.captioner.caption(np.ascontiguousarray(rgb))).split())
        except Exception as e:  # the host's model: missing weights, out of memory...
            log.warning("FaceSwapLab: %s caption failed for %s: %s", self.captioner.name, name, e)
            return base, f"{self.captioner.name} caption failed ({type(e).__name__}: {e}); used the template"
        if not text or text == "<error>" or text.endswith("<error>"):
            return base, f"{self.captioner.name} returned no caption; used the template"
        return (f"{base}, {text}" if self.mode.startswith("trigger+") else text), None

    def close(self) -> None:
        with self._lock:
            if self._begun:
                self._begun = False
                try:
                    self.captioner.end()
                except Exception as e:
                    log.warning("FaceSwapLab: could not free the %s model: %s", self.captioner.name, e)
