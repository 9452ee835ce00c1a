"""Building a checkpoint from photos: the one function every front end (CLI, HTTP API, the
web-ui tab, the app) builds through, so each photo passes the content filter exactly once.

This module sits above the pipeline (the optional preview swaps the new identity into a
neutral image with `pipeline.swap_image`); nothing below the pipeline imports it, which is
what keeps the import graph free of cycles. `checkpoints/__init__` does not re-export it for
the same reason: import it as `faceswaplab.checkpoints.build`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .. import safety
from ..analysis.face import normalize
from ..analysis.selection import largest
from ..errors import NoFaceError, OptionsError
from ..identity import Identity, blend, pick_source_face
from ..imageio import LoadedImage, load_image, save_image
from ..options import UnitOptions
from ..pipeline import swap_image
from .container import file_stem
from .format import BLEND_METHODS, EMBEDDING_MODEL_FILE
from .library import checkpoint_folder, sanitize_name, save_checkpoint

if TYPE_CHECKING:
    from ..engine import Engine

Progress = Callable[[Iterable[Any]], Iterable[Any]]


@dataclass
class BuildResult:
    path: Path
    identity: Identity
    used: list[str]  # sources a face was taken from
    skipped: list[str]  # why each skipped source was skipped
    preview: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": file_stem(self.path),
            "samples": self.identity.samples,
            "gender": self.identity.gender,
            "age": self.identity.age,
            "used": list(self.used),
            "skipped": list(self.skipped),
            "preview": None if self.preview is None else str(self.preview),
            "warnings": list(self.warnings),
        }


def embedding_model_sha256(engine: "Engine") -> str | None:
    """sha256 of the engine's recognition model (cached by the store), recorded in checkpoints
    so a later reader can tell which model's identity space the embedding lives in."""
    try:
        return engine.store.status(EMBEDDING_MODEL_FILE, "recognition").sha256
    except Exception:  # the sha is informative only; never fail a build over it
        return None


def _source_name(img: Any, i: int) -> str:
    if isinstance(img, (str, os.PathLike)):
        return os.path.basename(os.fspath(img)) or os.fspath(img)
    return f"image {i + 1}"


def _allowed_photo(engine: "Engine", img: Any, i: int, name: str) -> LoadedImage:
    """The photo decoded and passed through the content filter; one blocked photo refuses the
    whole build (BlockedError naming it), as a blocked target refuses a swap."""
    loaded = load_image(img, what=f"photo {i + 1}")
    safety.ensure_allowed(
        loaded.rgb, engine.options.nsfw_threshold, detector=engine.nsfw_detector, what=name, threads=engine.options.threads
    )
    return loaded


def build_identity(
    engine: "Engine",
    images: Sequence[Any],
    *,
    face_index: int | None = None,
    gender: str = "auto",
    blend_method: str = "mean",
    progress: Progress | None = None,
) -> tuple[Identity, list[str], list[str]]:
    """Analyse each image, take one face from each (the largest, or the `face_index`-th from
    the left), blend them (mean or median of normalised embeddings), gender by majority unless
    forced, age by median. Returns (identity, used source names, skipped messages).

    Raises NoFaceError when no image has a usable face, ImageError for unreadable images,
    BlockedError when the content filter blocks one of them."""
    if blend_method not in BLEND_METHODS:
        raise OptionsError(f"blend method must be one of {', '.join(BLEND_METHODS)}, got {blend_method!r}")
    if gender not in ("auto", "female", "male"):
        raise OptionsError(f"gender must be auto, female or male, got {gender!r}")
    if face_index is not None and (not isinstance(face_index, int) or face_index < 0):
        raise OptionsError(f"face index starts at 0, got {face_index!r}")
    if not images:
        raise OptionsError("give at least one photo to build a face checkpoint from")
    parts: list[Identity] = []
    used: list[str] = []
    skipped: list[str] = []
    items: Iterable[Any] = list(enumerate(images))
    if progress is not None:
        items = progress(items)
    for i, img in items:
        name = _source_name(img, i)
        loaded = _allowed_photo(engine, img, i, name)
        _, faces = engine.analyse(loaded, what=f"photo {i + 1}", attributes=True)
        face = largest(faces) if face_index is None else pick_source_face(faces, face_index)
        if face is None or face.embedding is None:
            if not faces:
                skipped.append(f"no face in {name}")
            else:
                skipped.append(f"face index {face_index} out of range in {name}: {len(faces)} face(s) found")
            continue
        used.append(name)
        parts.append(Identity(embedding=face.embedding, gender=face.gender, age=face.age, samples=1, label=name, raw_norm=face.raw_norm))
    if not parts:
        raise NoFaceError("no usable face in any of the photos: " + "; ".join(skipped))
    ident = blend(parts, method=blend_method, label="")
    if ident.embeddings is None:  # one photo: blend returned the part itself
        ident = replace(ident, embeddings=normalize(ident.embedding)[None])
    if gender != "auto":
        ident = replace(ident, gender=gender)
    return replace(ident, skipped=tuple(skipped)), used, skipped


def build_checkpoint(
    engine: "Engine",
    images: Sequence[Any],
    name: str,
    *,
    output_dir: str | os.PathLike[str] | None = None,
    face_index: int | None = None,
    gender: str = "auto",
    blend_method: str = "mean",
    overwrite: bool = False,
    preview: Any = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build a checkpoint from photos and save it (default folder: `<models dir>/faces/`).

    With `preview` (a neutral image with a face), the new identity is swapped into it and the
    result saved beside the checkpoint as `<name>.png`; a preview that cannot be made (no face,
    blocked by the filter) is a warning, the checkpoint is still written."""
    sanitize_name(name)  # fail on a bad name before the slow part
    preview_img = None
    if preview is not None:
        preview_img = load_image(preview, what="preview image")  # unreadable: fail before building
        engine.store.require(engine.options.swapper, "swapper")  # missing swapper: fail before writing
    ident, used, skipped = build_identity(
        engine, images, face_index=face_index, gender=gender, blend_method=blend_method, progress=progress
    )
    folder = Path(output_dir) if output_dir is not None else checkpoint_folder(engine.store)
    path = save_checkpoint(
        ident, folder, name, overwrite=overwrite, blend_method=blend_method, embedding_model_sha256=embedding_model_sha256(engine)
    )
    result = BuildResult(path=path, identity=replace(ident, label=path.name), used=used, skipped=skipped)
    if preview_img is not None:
        _make_preview(engine, preview_img, path, result)
    return result


def _make_preview(engine: "Engine", image: LoadedImage, ckpt: Path, result: BuildResult) -> None:
    unit = UnitOptions(face=str(ckpt), faces=(0,), sort="large-small")
    swapped = swap_image(image, [unit], engine=engine)  # swap_image runs the content filter on it
    if swapped.report.swapped == 0:
        result.warnings.append(f"no preview written: {swapped.report.nothing_swapped_reason()}")
        return
    out = ckpt.with_name(file_stem(ckpt) + ".png")
    save_image(out, swapped.image.rgb, alpha=swapped.image.alpha, meta=swapped.image.meta)
    result.preview = out


__all__ = ["BuildResult", "embedding_model_sha256", "build_identity", "build_checkpoint"]
