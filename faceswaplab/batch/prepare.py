"""Before the first image of a job: the units resolved once, and the fingerprint of the
options that change outputs, which the manifest keys every record on (a resumed job skips an
input only when its record was made with the same fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import safety
from ..engine import Engine
from ..errors import BadInputError, NoFaceError
from ..options import EngineOptions, UnitOptions
from ..pipeline import PreparedUnit, preflight, prepare_units

__all__ = ["options_fingerprint", "prepare_job"]


def _digest(v: np.ndarray | None) -> str | None:
    if v is None:
        return None
    q = np.round(np.asarray(v, np.float64).reshape(-1) * 1e4).astype(np.int64)
    return hashlib.sha256(q.tobytes()).hexdigest()[:16]


def options_fingerprint(
    prepared: Sequence[PreparedUnit], engine_options: EngineOptions, job: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(hash, the options it covers): the unit, engine and job options that change outputs.

    Sources are represented by the identity they resolved to (an embedding digest), so the
    same photos under another path hash the same, and a changed checkpoint hashes differently.
    Models folder, providers and thread count are left out: they do not change the result.
    """
    units = []
    for p in prepared:
        d = p.options.to_dict()
        for k in ("source_images", "face", "reference_image", "source_face_index"):
            d.pop(k, None)
        d["status"] = p.status
        d["identity"] = _digest(p.identity.embedding) if p.identity is not None else None
        d["identity_gender"] = p.identity.gender if p.identity is not None else None
        d["reference"] = _digest(p.reference)
        units.append(d)
    eo = engine_options
    engine = {
        "det_size": eo.det_size,
        "det_thresh": eo.det_thresh,
        "det_retry": eo.det_retry,
        "nsfw_threshold": safety.clamp_threshold(eo.nsfw_threshold),
        "swapper": eo.swapper,
    }
    data = {"units": units, "engine": engine, "job": job}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], data


def prepare_job(engine: Engine, units: Sequence[UnitOptions]) -> tuple[list[PreparedUnit], list[str]]:
    """Preflight the models and resolve the units once. Raises NoFaceError (exit code 4)
    when no unit has a usable source face; returns the warnings about units that cannot
    swap."""
    units = list(units)
    if not any(u.enabled and u.has_source for u in units):
        raise BadInputError("no enabled unit with a source: give source images or a face checkpoint")
    preflight(engine, units)
    prepared = prepare_units(engine, units)
    usable = [p for p in prepared if p.status == "ok" and p.identity is not None]
    problems = [f"unit {i + 1}: {p.error}" for i, p in enumerate(prepared) if p.active and p.status != "ok"]
    if not usable:
        raise NoFaceError("nothing can be swapped: " + ("; ".join(problems) or "no usable source face"))
    warnings = problems + [f"unit {i + 1}: {w}" for i, p in enumerate(prepared) if p.identity for w in p.identity.skipped]
    return prepared, warnings
