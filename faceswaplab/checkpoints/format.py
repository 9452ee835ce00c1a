"""The face layout inside a checkpoint's safetensors container (specified in
docs/checkpoints.md): what the tensors and metadata mean, decoded into an `Identity` and
encoded back.

A checkpoint holds the blended identity embedding of one person (several photos averaged),
plus gender and age. Nothing in it is code, so it can be shared safely. Our own files are
checked strictly (exact dtypes and shapes, a known format version); layouts of older tools
(FaceSwapLab 1.x, ReActor) are accepted more loosely and normalised, since users bring them
from elsewhere. This module sits below the pipeline: it imports nothing that swaps.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .. import TOOL_NAME, __version__
from ..analysis.face import GENDER_NAMES, normalize
from ..errors import CheckpointError, OptionsError
from ..identity import Identity
from .container import Parsed, bad, file_stem, label_for, parse_bytes, read_file, tensor_array

FORMAT_NAME = "faceswaplab.face"
FORMAT_VERSION = 1  # the layout's major version, in `format` (readers refuse a higher one)
# Revision 2 adds the optional `raw_embedding` tensor; it is recorded in the metadata key
# `revision`, not in `format`, so readers of revision 1 (which ignore unknown tensors but
# refuse a higher major version) still read these files.
FORMAT_REVISION = 2
MAX_RAW_NORM = 1000.0
EMBEDDING_MODEL = "buffalo_l/w600k_r50"
EMBEDDING_MODEL_FILE = "buffalo_l/w600k_r50.onnx"
EMBEDDING_DIM = 512
BLEND_METHODS = ("mean", "median")

#: Samples kept in `embeddings`; 10000 x 512 x 4 bytes = 20 MB.
MAX_SAMPLES = 10_000
MAX_DISPLAY_NAME_CHARS = 200
MAX_AGE = 150

GENDER_CODES = {"female": 0, "male": 1}

_FLOAT_DTYPES = ("F16", "F32", "F64")
_NUMERIC_DTYPES = ("F16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded, validated checkpoint."""

    identity: Identity  # normalised embedding(s), gender, age, samples, label
    name: str  # display name (metadata, else the file name without suffix)
    path: Path | None
    metadata: dict[str, str]  # the header metadata as stored
    legacy: bool  # True: an older tool's layout (no FaceSwapLab format metadata)
    format_version: int | None = None
    blend_method: str | None = None
    created: str | None = None
    embedding_model: str | None = None
    embedding_model_sha256: str | None = None


def display_name(name: str) -> str:
    """The name shown for a checkpoint: any text, minus control characters (it is metadata,
    never a path; the file name is sanitised separately)."""
    text = "".join(c for c in unicodedata.normalize("NFKC", str(name)) if unicodedata.category(c)[0] != "C")
    return text.strip()[:MAX_DISPLAY_NAME_CHARS]


def is_ours(meta: Mapping[str, str]) -> bool:
    """Written by FaceSwapLab 2 (strict checks) rather than by an older tool (lenient)."""
    return str(meta.get("format", "")).startswith(FORMAT_NAME)


def _format_version(meta: Mapping[str, str], label: str) -> int:
    fmt = meta.get("format", "")
    m = re.fullmatch(re.escape(FORMAT_NAME) + r"/(\d{1,6})", fmt)
    if not m:
        raise bad(label, f"its format {fmt!r} is not {FORMAT_NAME}/<version>")
    version = int(m.group(1))
    if version < 1:
        raise bad(label, f"its format version {version} is invalid")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{label} was written in {FORMAT_NAME} version {version}, newer than this FaceSwapLab reads "
            f"(version {FORMAT_VERSION}); update FaceSwapLab, or rebuild the checkpoint with this version"
        )
    return version


def _normalised_rows(rows: np.ndarray, label: str, what: str) -> np.ndarray:
    if not np.all(np.isfinite(rows)):
        raise bad(label, f"{what} contains NaN or infinite values")
    norms = np.linalg.norm(rows, axis=1)
    if np.any(norms < 1e-6):
        raise bad(label, f"{what} is all zeros (no identity)" if len(rows) == 1 else f"{what} has an all-zero row")
    return (rows / norms[:, None]).astype(np.float32)


def _embedding_vector(parsed: Parsed, label: str, strict: bool) -> np.ndarray:
    if "embedding" not in parsed.tensors:
        present = ", ".join(sorted(parsed.tensors)) or "no tensors"
        raise bad(label, f"it has no 'embedding' tensor (found: {present})")
    t = parsed.tensors["embedding"]
    if strict:
        if t.dtype != "F32" or t.shape != (EMBEDDING_DIM,):
            raise bad(label, f"'embedding' must be F32 [{EMBEDDING_DIM}], found {t.dtype} {list(t.shape)}")
    elif t.dtype not in _FLOAT_DTYPES or t.shape not in ((EMBEDDING_DIM,), (1, EMBEDDING_DIM)):
        raise bad(label, f"'embedding' must be a float vector of {EMBEDDING_DIM} values, found {t.dtype} {list(t.shape)}")
    vec = tensor_array(parsed, "embedding", label).astype(np.float64).reshape(-1)
    return _normalised_rows(vec[None], label, "'embedding'")[0]


def _embedding_rows(parsed: Parsed, label: str, strict: bool) -> np.ndarray | None:
    if "embeddings" not in parsed.tensors:
        return None
    t = parsed.tensors["embeddings"]
    ok_dtype = t.dtype == "F32" if strict else t.dtype in _FLOAT_DTYPES
    if not ok_dtype or len(t.shape) != 2 or t.shape[1] != EMBEDDING_DIM or not 1 <= t.shape[0] <= MAX_SAMPLES:
        raise bad(
            label, f"'embeddings' must be F32 [N,{EMBEDDING_DIM}] with 1 <= N <= {MAX_SAMPLES}, found {t.dtype} {list(t.shape)}"
        )
    return _normalised_rows(tensor_array(parsed, "embeddings", label).astype(np.float64), label, "'embeddings'")


def _raw_norm(parsed: Parsed, label: str, strict: bool) -> float | None:
    """The norm of the stored raw-scale embedding (revision 2), None when absent."""
    if "raw_embedding" not in parsed.tensors:
        return None
    t = parsed.tensors["raw_embedding"]
    if t.dtype not in (("F32",) if strict else _FLOAT_DTYPES) or t.shape != (EMBEDDING_DIM,):
        raise bad(label, f"'raw_embedding' must be F32 [{EMBEDDING_DIM}], found {t.dtype} {list(t.shape)}")
    vec = tensor_array(parsed, "raw_embedding", label).astype(np.float64)
    norm = float(np.linalg.norm(vec))
    if not math.isfinite(norm) or not 1e-3 < norm < MAX_RAW_NORM:
        raise bad(label, f"'raw_embedding' has norm {norm:g}, expected a finite value between 0 and {MAX_RAW_NORM:g}")
    return norm


def _scalar(parsed: Parsed, key: str, label: str) -> float | None:
    if key not in parsed.tensors:
        return None
    t = parsed.tensors[key]
    if t.dtype not in _NUMERIC_DTYPES or t.shape not in ((), (1,)):
        raise bad(label, f"{key!r} must be one number, found {t.dtype} {list(t.shape)}")
    v = float(tensor_array(parsed, key, label).reshape(-1)[0])
    if not math.isfinite(v):
        raise bad(label, f"{key!r} is NaN or infinite")
    return v


def _gender_age(parsed: Parsed, label: str, strict: bool) -> tuple[str | None, int | None]:
    """Unknown values (-1, or an older tool's odd numbers) become None; ours must be valid."""
    g = _scalar(parsed, "gender", label)
    gender: str | None = None
    if g is not None:
        code = int(round(g))
        if code in GENDER_NAMES and abs(g - code) < 1e-3:
            gender = GENDER_NAMES[code]
        elif strict and code != -1:
            raise bad(label, f"'gender' must be 0 (female), 1 (male) or -1 (unknown), found {g:g}")
    a = _scalar(parsed, "age", label)
    age: int | None = None
    if a is not None:
        if 0 <= a <= MAX_AGE:
            age = int(round(a))
        elif strict and a != -1:
            raise bad(label, f"'age' must be between 0 and {MAX_AGE} (or -1 for unknown), found {a:g}")
    return gender, age


def _samples_and_method(meta: Mapping[str, str], embeddings: np.ndarray | None, label: str) -> tuple[int, str]:
    try:
        samples = int(meta.get("samples", "1"))
    except ValueError:
        raise bad(label, f"metadata 'samples' must be a whole number, found {meta.get('samples')!r}") from None
    if not 1 <= samples <= MAX_SAMPLES:
        raise bad(label, f"metadata 'samples' must be between 1 and {MAX_SAMPLES}, found {samples}")
    if embeddings is not None and embeddings.shape[0] != samples:
        raise bad(label, f"metadata says {samples} samples but 'embeddings' holds {embeddings.shape[0]}")
    method = meta.get("blend", "mean")
    if method not in BLEND_METHODS:
        raise bad(label, f"metadata 'blend' must be one of {', '.join(BLEND_METHODS)}, found {method!r}")
    return samples, method


def _decode(parsed: Parsed, label: str, path: Path | None) -> Checkpoint:
    meta = parsed.metadata
    ours = is_ours(meta)
    version = _format_version(meta, label) if ours else None
    emb = _embedding_vector(parsed, label, strict=ours)
    embeddings = _embedding_rows(parsed, label, strict=ours)
    gender, age = _gender_age(parsed, label, strict=ours)
    method: str | None = None
    if ours:
        samples, method = _samples_and_method(meta, embeddings, label)
    else:
        samples = embeddings.shape[0] if embeddings is not None else 1
    stem = file_stem(path) if path is not None else "checkpoint"
    display = display_name(meta.get("name", "")) or stem
    ident = Identity(
        embedding=emb,
        gender=gender,
        age=age,
        samples=samples,
        label=path.name if path is not None else display,
        embeddings=embeddings if embeddings is not None else emb[None].copy(),
        raw_norm=_raw_norm(parsed, label, strict=ours),
    )
    revision = meta.get("revision", "1") if ours else None
    return Checkpoint(
        identity=ident,
        name=display,
        path=path,
        metadata=dict(meta),
        legacy=not ours,
        format_version=(int(revision) if revision and revision.isdigit() else version) if ours else None,
        blend_method=method,
        created=meta.get("created"),
        embedding_model=meta.get("embedding_model") or None,
        embedding_model_sha256=meta.get("embedding_model_sha256") or None,
    )


def decode_checkpoint(data: bytes, source: str = "<upload>") -> Checkpoint:
    """Validate and decode checkpoint bytes that never were a file (an HTTP upload, a
    database blob); the counterpart of `encode_checkpoint`."""
    label = label_for(None, source)
    return _decode(parse_bytes(bytes(data), label), label, None)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Validate and load one checkpoint file (ours or an older tool's safetensors layout).

    Raises CheckpointError (exit code 2) naming the file, what is wrong and what to do.
    """
    p = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    return _decode(read_file(p), label_for(p), p)


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def encode_checkpoint(
    identity: Identity,
    *,
    name: str,
    blend_method: str = "mean",
    embedding_model_sha256: str | None = None,
    created: str | None = None,
) -> bytes:
    """The bytes of a checkpoint file for `identity` (see docs/checkpoints.md)."""
    from safetensors.numpy import save  # lazy: keeps `import faceswaplab` light

    if blend_method not in BLEND_METHODS:
        raise OptionsError(f"blend method must be one of {', '.join(BLEND_METHODS)}, got {blend_method!r}")
    emb = normalize(identity.embedding)
    if emb.shape != (EMBEDDING_DIM,):
        raise OptionsError(f"an identity embedding has {EMBEDDING_DIM} values, got {emb.shape}")
    tensors: dict[str, np.ndarray] = {"embedding": np.ascontiguousarray(emb, np.float32)}
    rows = identity.embeddings
    n = 1
    if rows is not None:
        rows = np.asarray(rows, np.float64).reshape(-1, EMBEDDING_DIM)
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        n = rows.shape[0]
        if n > MAX_SAMPLES:
            raise OptionsError(f"a checkpoint keeps at most {MAX_SAMPLES} samples, got {n}")
        if n > 1:
            tensors["embeddings"] = np.ascontiguousarray(rows, np.float32)
    if identity.raw_norm is not None and math.isfinite(identity.raw_norm) and 0.0 < identity.raw_norm < MAX_RAW_NORM:
        # direction: the blended identity; scale: the photos' mean raw norm (what raw-scale
        # swapper kinds such as ghost take)
        tensors["raw_embedding"] = np.ascontiguousarray(emb * np.float32(identity.raw_norm), np.float32)
    tensors["gender"] = np.array(GENDER_CODES.get(identity.gender or "", -1), np.int64)
    tensors["age"] = np.array(-1 if identity.age is None else int(identity.age), np.int64)
    metadata = {
        "format": f"{FORMAT_NAME}/{FORMAT_VERSION}",
        "revision": str(FORMAT_REVISION),
        "name": display_name(name) or "face",
        "samples": str(n),
        "blend": blend_method,
        "embedding_model": EMBEDDING_MODEL,
        "embedding_model_sha256": embedding_model_sha256 or "",
        "created": created or _now_iso(),
        "generator": f"{TOOL_NAME} {__version__}",
    }
    return save(tensors, metadata=metadata)


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FORMAT_REVISION",
    "EMBEDDING_MODEL",
    "EMBEDDING_MODEL_FILE",
    "EMBEDDING_DIM",
    "BLEND_METHODS",
    "MAX_SAMPLES",
    "Checkpoint",
    "display_name",
    "is_ours",
    "decode_checkpoint",
    "load_checkpoint",
    "encode_checkpoint",
]
