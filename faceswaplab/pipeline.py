"""One image through the whole flow: decode -> content filter (once) -> analyse faces (once)
-> per unit: select target faces, resolve the identity -> aligned swap (+ enhancement) -> one
warp back into the face's ROI -> post-processing of the whole image (PostOptions: every
face restored, the image upscaled) -> SwapResult with a per-face report.

Every front end (CLI, HTTP API, web-ui accordion and Extras, app, batch and dataset jobs)
builds UnitOptions (and PostOptions) and calls `swap_image`; there is no second code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from . import postprocess, safety
from .analysis.face import Face, similarity
from .analysis.selection import largest, select_faces
from .enhance import inpaint
from .engine import Engine, swapper_file
from .errors import BadInputError, ModelMissingError, NoFaceError
from .identity import Identity, blend, describe_missing, from_faces, pick_source_face
from .imageio import LoadedImage, load_image
from .options import PostOptions, UnitOptions
from .report import SKIPPED, SWAPPED, FaceReport, SwapReport, UnitReport
from .source_cache import SourceCache, content_key
from .swap.face_swap import SwapOutcome, swap_face, unit_swapper_type
from .swap.masks import preview as mask_preview_image


SWAPPER_TEXT_KEY = "faceswaplab_swapper"


@dataclass
class PreparedUnit:
    """A unit with its source identity and reference embedding resolved (once per job)."""

    options: UnitOptions
    identity: Identity | None = None
    reference: np.ndarray | None = None
    error: str | None = None  # why this unit cannot swap (no face in the source...)
    status: str = "ok"

    @property
    def active(self) -> bool:
        return self.options.enabled and self.options.has_source


@dataclass
class SwapResult:
    image: LoadedImage
    report: SwapReport
    original: LoadedImage | None = field(default=None, repr=False)
    # with mask_preview: (name, RGB image) per swapped face: the aligned original with the
    # combined mask and each part overlaid (swap/masks.py preview)
    previews: list[tuple[str, np.ndarray]] = field(default_factory=list, repr=False)

    @property
    def rgb(self) -> np.ndarray:
        return self.image.rgb


def _analyse_source(
    engine: Engine, img: Any, what: str, need_gender: bool, cache: SourceCache | None = None
) -> tuple[str, list[Face]]:
    key = content_key(img) if cache is not None else None
    if cache is not None and key is not None:
        for k in ((key, need_gender), (key, True)):  # an analysis with gender serves both
            if k in cache.entries:
                cache.hits += 1
                return cache.entries[k]
        cache.misses += 1
    loaded, faces = engine.analyse(img, what=what, attributes=need_gender)
    if cache is not None and key is not None:
        cache.entries[(key, need_gender)] = (loaded.source, faces)
    return loaded.source, faces


def resolve_identity(engine: Engine, unit: UnitOptions, cache: SourceCache | None = None) -> Identity:
    """The unit's source identity: its photos blended with its checkpoint, if any.

    Raises NoFaceError when no photo has a usable face and there is no checkpoint;
    CheckpointError for a malformed checkpoint.
    """
    need_gender = unit.gender == "same"
    found: list[tuple[str, Face]] = []
    skipped: list[str] = []
    for i, src in enumerate(unit.source_images):
        name, faces = _analyse_source(engine, src, f"source image {i + 1}", need_gender, cache)
        name = _label(name, i)
        face = pick_source_face(faces, unit.source_face_index)
        if face is None:
            skipped.append(describe_missing(name, len(faces), unit.source_face_index))
        else:
            found.append((name, face))
    parts: list[Identity] = []
    if found:
        parts.append(from_faces(found, label=", ".join(n for n, _ in found)))
    if unit.face is not None:
        from .checkpoints import load_checkpoint_identity

        parts.append(load_checkpoint_identity(unit.face, engine.store, folder=engine.options.faces_dir))
    if not parts:
        raise NoFaceError("; ".join(skipped) if skipped else "the unit has no source")
    ident = blend(parts) if len(parts) > 1 else parts[0]
    if skipped:
        ident = replace(ident, skipped=tuple(skipped) + ident.skipped)
    return ident


def _label(source: str, i: int) -> str:
    """A file's base name, or "source image N" for an in-memory image (an upload, an array):
    what reports and infotexts show, never a "<PIL image>" placeholder."""
    import os

    if not source or source.startswith("<"):
        return f"source image {i + 1}"
    return os.path.basename(source) or source


def preflight(engine: Engine, units: Sequence[UnitOptions], post: PostOptions | None = None) -> None:
    """Load every model the units (and the post-processing) need now, so a command fails
    before any image with ONE message naming every missing file (ModelMissingError, exit
    code 3), not one per run."""
    units = [u for u in units if u.enabled]
    needs: list[Any] = [engine.detector, engine.recognizer]
    for swapper in dict.fromkeys((u.swapper, unit_swapper_type(u)) for u in units) or [(None, None)]:
        needs.append(lambda s=swapper: engine.swapper(*s))
    if any(u.gender != "any" for u in units):
        needs.append(engine.genderage)
    if engine.nsfw_detector is None:
        needs.append(safety.get_detector)
    for u in units:  # enhancement models (restorer, parser, upscaler, occluder) named by the units
        enh = u.enhance
        named = ((enh.restorer, engine.restorer), (enh.parser, engine.parser), (enh.upscale, engine.upscaler),
                 (enh.occluder, engine.occluders))  # fmt: skip
        for name, getter in named:
            if name:
                needs.append(lambda g=getter, n=name: g(n))
        if enh.mask_areas or (enh.keep_mouth and not enh.parser):
            needs.append(engine.landmarks68)
    if post is not None and post.active:
        needs.append(lambda: postprocess.resolve(engine, post))
    missing: list[str] = []
    for need in needs:
        try:
            need()
        except ModelMissingError as e:
            if e.message not in missing:
                missing.append(e.message)
    if len(missing) == 1:
        raise ModelMissingError(missing[0])
    if missing:
        raise ModelMissingError(f"{len(missing)} model files are missing: " + " | ".join(missing))


def prepare_units(
    engine: Engine, units: Sequence[UnitOptions], cache: SourceCache | None = None
) -> list[PreparedUnit]:
    """Resolve every enabled unit's identity and reference once (reused for many targets).
    A photo several units use is analysed once (`cache`, a fresh one per call by default)."""
    inpaint.check_units(engine.inpainter, units)  # outside the web-ui: one clear error first
    cache = SourceCache() if cache is None else cache
    prepared: list[PreparedUnit] = []
    for unit in units:
        p = PreparedUnit(unit)
        if not unit.enabled:
            p.status = "disabled"
        elif not unit.has_source:
            p.status, p.error = "disabled", "no source configured"
        else:
            try:
                p.identity = resolve_identity(engine, unit, cache)
            except NoFaceError as e:
                p.status, p.error = "no-source-face", e.message
            if p.identity is not None and unit.reference_image is not None:
                _, ref_faces = _analyse_source(engine, unit.reference_image, "reference image", False, cache)
                ref = largest(ref_faces)
                if ref is None:
                    p.status, p.error = "no-reference-face", "no face in the reference image"
                    p.identity = None
                else:
                    p.reference = ref.embedding
        prepared.append(p)
    return prepared


def swap_image(
    image: Any,
    units: Sequence[UnitOptions] | None = None,
    post: PostOptions | None = None,
    *,
    engine: Engine | None = None,
    prepared: Sequence[PreparedUnit] | None = None,
    mask_preview: bool = False,
) -> SwapResult:
    """Swap the units' identities into `image` (path, PIL image, numpy RGB or LoadedImage),
    then post-process the whole image with `post` when something was swapped.

    Never raises for "nothing to swap" or "blocked": the report says what happened and the
    image comes back unchanged. Raises BadInputError for unreadable images or unknown post
    models, and ModelError when a model file is missing or corrupt.
    """
    engine = engine or Engine()
    post_models = postprocess.resolve(engine, post)  # before any work: a missing model fails now
    if prepared is None:
        if units is None:
            raise BadInputError("swap_image needs units (or prepared units)")
        prepared = prepare_units(engine, units)
    target = load_image(image, what="target image")
    report = SwapReport(warnings=list(target.warnings))

    verdict = safety.check_image(
        target.rgb, engine.options.nsfw_threshold, detector=engine.nsfw_detector, threads=engine.options.threads
    )
    if verdict.blocked:
        report.blocked, report.block_reason = True, verdict.reason
        for i, p in enumerate(prepared):
            report.units.append(UnitReport(unit=i, status="blocked" if p.active else "disabled", reason=verdict.reason))
        return SwapResult(target, report, original=target)

    active = [p for p in prepared if p.status == "ok" and p.identity is not None]
    need_gender = any(p.options.gender != "any" for p in active) or inpaint.needs_gender([p.options for p in active])
    faces: list[Face] = []
    if active:
        _, faces = engine.analyse(target, attributes=need_gender, want=faces_wanted(p.options for p in active))
    report.faces_detected = len(faces)

    rgb = target.rgb.copy()
    previews: list[tuple[str, np.ndarray]] | None = [] if mask_preview else None
    pending: list[tuple[FaceReport, np.ndarray, np.ndarray]] = []  # similarities measured at the end
    models = _ImageModels(engine)
    for i, p in enumerate(prepared):
        ident = p.identity
        ur = UnitReport(unit=i, source=ident.label if ident else "", status=p.status, reason=p.error)
        if p.active:
            ur.swapper = swapper_file(p.options.swapper or engine.options.swapper).replace("\\", "/").rsplit("/", 1)[-1]
        report.units.append(ur)
        if ident is None or p.status != "ok":
            continue
        if ident.skipped:
            report.warnings.extend(ident.skipped)
        if not faces:
            ur.reason = "no face found in the target image"
            continue
        opts = p.options
        candidates = select_faces(
            faces,
            indices=opts.faces,
            order=opts.sort,
            gender=opts.gender,
            source_gender=ident.gender,
            reference=p.reference,
            reference_threshold=opts.reference_threshold,
            min_face_size=opts.min_face_size,
        )
        for cand in candidates:
            face = cand.face
            fr = FaceReport(position=cand.position, status=SKIPPED, reason=cand.reason)
            fr.reference_similarity = cand.reference_similarity
            if face is not None:
                if face.rotation:
                    fr.notes.append(f"found after rotating {face.rotation}")
                fr.bbox = [round(float(v), 1) for v in face.bbox]
                fr.det_score, fr.gender, fr.age = round(face.det_score, 4), face.gender, face.age
            ur.faces.append(fr)
            if face is None or cand.reason is not None:
                continue
            outcome = _swap_one(models, rgb, face, ident, opts, fr, pending)
            if previews is not None and outcome is not None and outcome.masks is not None:
                previews.append((f"unit{i + 1}-face{cand.position}", mask_preview_image(outcome.target, outcome.masks)))

    _measure_similarities(engine, rgb, pending)
    meta = target.meta
    used = sorted({u.swapper for u in report.units if u.swapped and u.swapper})
    if used:  # PNG text names the swapper(s) that made the faces (other formats carry no text)
        meta = replace(meta, text={**meta.text, SWAPPER_TEXT_KEY: ", ".join(used)})
    result_img = LoadedImage(rgb=rgb, alpha=target.alpha, meta=meta, source=target.source, warnings=target.warnings)
    if post is not None and post.active and report.swapped:
        result_img, report.postprocessing = postprocess.apply(engine, result_img, post, post_models)
    return SwapResult(result_img, report, original=target, previews=previews or [])


def faces_wanted(units: Any) -> int:
    """How many target faces the units ask for: the highest index + 1 ("all": at least one)."""
    return max([1] + [max(u.faces) + 1 for u in units if u.faces]) if units else 1


class _ImageModels:
    """The engine's models for one image: each swapper is looked up once per image instead of
    once per face (a look-up stats and resolves the file, ~1 ms); the rest is the engine's."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._swappers: dict[tuple[str | None, str | None], Any] = {}

    def swapper(self, name: str | None = None, kind: str | None = None) -> Any:
        key = (name, kind)
        if key not in self._swappers:
            self._swappers[key] = self._engine.swapper(name, kind)
        return self._swappers[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _swap_one(
    engine: Any,
    rgb: np.ndarray,
    face: Face,
    ident: Identity,
    opts: UnitOptions,
    fr: FaceReport,
    pending: list[tuple[FaceReport, np.ndarray, np.ndarray]],
) -> SwapOutcome | None:
    """Swap one face. With min_similarity the swapped face is embedded at once (a face below
    it is reverted before the next face is pasted, which may overlap it); otherwise its
    similarity is only queued in `pending` (when reported at all) and every queued face of
    the image is embedded in one recognition run by `_measure_similarities`."""
    original = None
    if opts.enhance.inpaint_when == "before":
        # Its pass may reach past the swap's ROI: a face given up below keeps none of it.
        original = rgb.copy()
        fr.inpaint = inpaint.inpaint_face(engine, rgb, face, opts, fr.notes)
    outcome = swap_face(engine, rgb, face, ident, opts)
    if outcome.roi is None:
        if original is not None:
            np.copyto(rgb, original)
        fr.reason = "face lies outside the image"
        return None
    fr.notes.extend(outcome.notes)
    if opts.min_similarity > 0.0:
        x0, y0, x1, y1 = outcome.roi
        sim = similarity(engine.analyser().embed(rgb, face.kps), ident.embedding)
        fr.similarity = round(sim, 4)
        if sim < opts.min_similarity:
            if original is not None:
                np.copyto(rgb, original)
                fr.notes.append("the inpainting before the swap was reverted with it")
            else:
                rgb[y0:y1, x0:x1] = outcome.before
            fr.reason = f"below similarity: {sim:.2f} < {opts.min_similarity:.2f} (reverted)"
            return outcome
    elif opts.report_similarity:
        pending.append((fr, face.kps, ident.embedding))
    fr.status, fr.reason = SWAPPED, None
    if opts.enhance.inpaint_when == "after":  # after restoration: the face as it will be seen
        fr.inpaint = inpaint.inpaint_face(engine, rgb, face, opts, fr.notes)
    return outcome


def _measure_similarities(engine: Engine, rgb: np.ndarray, pending: list[tuple[FaceReport, np.ndarray, np.ndarray]]) -> None:
    """Each queued swapped face vs its source identity, measured on the finished image."""
    if not pending:
        return
    embeddings = engine.analyser().embed_many(rgb, [kps for _, kps, _ in pending])
    for (fr, _, source), emb in zip(pending, embeddings):
        fr.similarity = round(similarity(emb, source), 4)


__all__ = ["swap_image", "preflight", "prepare_units", "resolve_identity", "PreparedUnit", "SourceCache", "SwapResult"]
