"""Face checkpoints: one identity saved for reuse, in a small `.safetensors` file.

A checkpoint holds the blended identity embedding of one person (several photos averaged),
plus gender and age, in the safetensors container: a length-prefixed JSON header followed by
raw little-endian tensor bytes. Nothing in it is code, so it can be shared safely. The format
is specified in docs/checkpoints.md.

Safety, the reason this module exists in this shape:

- Nothing is ever unpickled. Older face files were pickles (``.pkl``), and PyTorch ``.pt`` /
  ``.ckpt`` files are zipped pickles; unpickling runs whatever code the file names. Such
  files are refused by extension and, when renamed, by their content, with a message saying
  how to rebuild the checkpoint from photos.
- The safetensors structure is validated here, by our own parser, before a single tensor is
  read: header length, JSON, dtypes, shapes, offsets inside the file, no overlap, no trailing
  bytes, a bounded file and header size. The tensors are then read with ``numpy.frombuffer``
  from the validated offsets; no third-party loader ever sees an unvalidated file.
- Writes are atomic: a temporary file in the same folder, fsync, then a rename. A crash leaves
  either the old file or the new one, never half of one.

Also here, because they share the identity plumbing and are reused by the CLI, the web-ui tab
and the HTTP API: `compare_faces` and `extract_faces`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import secrets
import stat
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import TOOL_NAME, __version__
from .analysis.face import GENDER_NAMES, Face, normalize, similarity
from .analysis.selection import largest, sort_faces
from .durable import fsync_dir
from .errors import CheckpointError, FaceSwapLabError, NoFaceError, OptionsError
from .identity import Identity, blend, pick_source_face

if TYPE_CHECKING:
    from .engine import Engine
    from .models.store import ModelStore

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUFFIX",
    "EMBEDDING_MODEL",
    "BLEND_METHODS",
    "Checkpoint",
    "CheckpointInfo",
    "BuildResult",
    "CompareResult",
    "ExtractedFace",
    "sanitize_name",
    "checkpoint_folder",
    "list_checkpoints",
    "checkpoint_names",
    "checkpoint_info",
    "embedding_model_sha256",
    "check_aligned_size",
    "resolve_checkpoint",
    "encode_checkpoint",
    "decode_checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "load_checkpoint_identity",
    "build_identity",
    "build_checkpoint",
    "compare_faces",
    "extract_faces",
    "ALIGNED_SIZES",
]

# --------------------------------------------------------------------------- format constants

FORMAT_NAME = "faceswaplab.face"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
EMBEDDING_MODEL = "buffalo_l/w600k_r50"
EMBEDDING_MODEL_FILE = "buffalo_l/w600k_r50.onnx"
EMBEDDING_DIM = 512
BLEND_METHODS = ("mean", "median")

#: Refused by name: pickle-based formats (unpickling executes code).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".joblib")

#: A face header is a few hundred bytes (even a 1.x / ReActor file with landmarks is < 2 KB).
MAX_HEADER_BYTES = 100_000
#: Samples kept in `embeddings`; 10000 x 512 x 4 bytes = 20 MB.
MAX_SAMPLES = 10_000
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TENSORS = 64
MAX_NAME_CHARS = 100
MAX_DISPLAY_NAME_CHARS = 200
MAX_AGE = 150

# safetensors dtype -> (numpy little-endian dtype or None when numpy cannot hold it, itemsize)
_DTYPES: dict[str, tuple[str | None, int]] = {
    "F64": ("<f8", 8),
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": (None, 2),
    "F8_E4M3": (None, 1),
    "F8_E5M2": (None, 1),
    "I64": ("<i8", 8),
    "I32": ("<i4", 4),
    "I16": ("<i2", 2),
    "I8": ("i1", 1),
    "U64": ("<u8", 8),
    "U32": ("<u4", 4),
    "U16": ("<u2", 2),
    "U8": ("u1", 1),
    "BOOL": ("?", 1),
}
_FLOAT_DTYPES = ("F16", "F32", "F64")
_NUMERIC_DTYPES = ("F16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64")

_REBUILD_HINT = (
    "rebuild it from photos of the person: python -m faceswaplab build --name NAME photo1.jpg "
    "photo2.jpg ... (or in the web-ui's FaceSwapLab tab)"
)
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}

GENDER_CODES = {"female": 0, "male": 1}

# --------------------------------------------------------------------------- data types


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


@dataclass(frozen=True)
class CheckpointInfo:
    """One entry of a checkpoint folder listing (from the header only: cheap)."""

    name: str  # what --face takes: the file name without .safetensors
    path: Path
    size: int
    ok: bool
    error: str | None = None  # why it cannot be used (pickles are listed with this set)
    display_name: str | None = None
    samples: int | None = None
    created: str | None = None
    legacy: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "size": self.size,
            "ok": self.ok,
            "error": self.error,
            "display_name": self.display_name,
            "samples": self.samples,
            "created": self.created,
            "legacy": self.legacy,
        }


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
            "name": self.path.name[: -len(SUFFIX)] if self.path.name.endswith(SUFFIX) else self.path.stem,
            "samples": self.identity.samples,
            "gender": self.identity.gender,
            "age": self.identity.age,
            "used": list(self.used),
            "skipped": list(self.skipped),
            "preview": None if self.preview is None else str(self.preview),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- names and folder


def sanitize_name(name: str) -> str:
    """A checkpoint name safe as a file name on every OS: no path separators, no `..`, no
    leading dot (hidden files), letters/digits/space/`-_.` only, at most 100 characters.

    Raises OptionsError when nothing usable is left.
    """
    text = unicodedata.normalize("NFKC", str(name or "")).strip()
    if text.lower().endswith(SUFFIX):
        text = text[: -len(SUFFIX)]
    out = "".join(c if (c.isalnum() or c in "-_. ") else "_" for c in text)
    out = re.sub(r"\.{2,}", ".", out)
    out = re.sub(r"_{2,}", "_", out)
    out = re.sub(r"\s+", " ", out)
    out = out.strip(" ._-")
    out = out[:MAX_NAME_CHARS].rstrip(" .")  # Windows drops trailing dots and spaces
    if not out:
        raise OptionsError(
            f"checkpoint name {name!r} has no usable characters; use letters, digits, '-', '_' or spaces"
        )
    if out.split(".")[0].lower() in _WINDOWS_RESERVED:
        out = f"{out}_"
    return out


def _display_name(name: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKC", str(name)) if unicodedata.category(c)[0] != "C")
    return text.strip()[:MAX_DISPLAY_NAME_CHARS]


def checkpoint_folder(store: "ModelStore") -> Path:
    """`<models dir>/faces/` (inside the web-ui: `<models_path>/faceswaplab/faces/`)."""
    return store.folder_for("face")


def _stem(path: Path) -> str:
    n = path.name
    return n[: -len(SUFFIX)] if n.lower().endswith(SUFFIX) else path.stem


def _list_folder(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    files = [p for p in entries if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=lambda p: (p.name.lower(), p.name))


def list_checkpoints(
    store: "ModelStore | None", *, include_refused: bool = True, folder: str | os.PathLike[str] | None = None
) -> list[CheckpointInfo]:
    """Every checkpoint in the folder (`folder`, else `<models dir>/faces/`), read afresh on
    each call (no restart needed after adding files; hidden files such as unfinished temporary
    files are skipped). Malformed files are listed with `ok=False` and the reason; with
    `include_refused`, pickle files left by older tools are listed too, with the reason they
    are refused."""
    if folder is None:
        if store is None:
            raise ValueError("list_checkpoints needs a store or a folder")
        folder = checkpoint_folder(store)
    folder_p = Path(folder)
    out: list[CheckpointInfo] = [checkpoint_info(p) for p in _list_folder(folder_p, (SUFFIX,))]
    if include_refused:
        for p in _list_folder(folder_p, PICKLE_SUFFIXES):
            try:
                size = p.stat().st_size
            except OSError:
                size = 0
            out.append(CheckpointInfo(_stem(p), p, size, False, _pickle_message(p, "file extension")))
    return out


def checkpoint_names(store: "ModelStore | None", *, folder: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the usable checkpoints (for dropdowns and messages)."""
    return [i.name for i in list_checkpoints(store, include_refused=False, folder=folder) if i.ok]


def checkpoint_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """One listing entry, from the header only (cheap); never raises for a bad file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        parsed = _read_parsed(path, header_only=True)
    except CheckpointError as e:
        return CheckpointInfo(_stem(path), path, size, False, e.message)
    meta = parsed.metadata
    ours = _is_ours(meta)
    samples: int | None = None
    if ours:
        try:
            samples = int(meta.get("samples", ""))
        except ValueError:
            samples = None
    elif "embeddings" in parsed.tensors:
        samples = parsed.tensors["embeddings"].shape[0] if parsed.tensors["embeddings"].shape else None
    return CheckpointInfo(
        name=_stem(path),
        path=path,
        size=size,
        ok=True,
        display_name=meta.get("name") or _stem(path),
        samples=samples if samples is not None else 1,
        created=meta.get("created"),
        legacy=not ours,
    )




def _is_bare_name(text: str) -> bool:
    return not (os.path.isabs(os.path.expanduser(text)) or "/" in text or "\\" in text or text.startswith("~"))


def resolve_checkpoint(
    face: str | os.PathLike[str], store: "ModelStore | None", *, folder: str | os.PathLike[str] | None = None
) -> Path:
    """A checkpoint reference -> its file.

    A path (anything with a directory part, or absolute) is used as given. A bare name is
    looked up in the checkpoint folder (`folder`, else `<models dir>/faces/`), with or without
    `.safetensors`, then as a file in the working directory. Unknown names raise
    CheckpointError listing what is available.
    """
    text = os.fspath(face)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = text.strip()
    if not text:
        raise CheckpointError("empty face checkpoint name; give a name from the checkpoint folder or a path")
    if not _is_bare_name(text):
        p = Path(os.path.abspath(os.path.expanduser(text)))
        if not p.exists():
            raise CheckpointError(f"face checkpoint {text} does not exist; check the path")
        return p
    if text in (".", ".."):
        raise CheckpointError(f"face checkpoint name {text!r} is not a file name")
    where: Path | None = Path(folder) if folder is not None else (checkpoint_folder(store) if store is not None else None)
    if where is not None:
        for cand in (where / text, where / (text + SUFFIX)):
            if cand.is_file():
                return cand
    local = Path(os.path.abspath(text))
    if local.is_file():
        return local
    if where is None:
        raise CheckpointError(f"face checkpoint {text!r} not found; give the path of a {SUFFIX} file")
    names = checkpoint_names(None, folder=where)
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    raise CheckpointError(
        f"face checkpoint {text!r} not found in {where} (available: {shown or 'none'}); "
        f"give one of these names, the path of a {SUFFIX} file, or build it with: "
        f"python -m faceswaplab build --name {sanitize_name(text) if _safe_for_hint(text) else 'NAME'} IMG [IMG ...]"
    )


def _safe_for_hint(text: str) -> bool:
    try:
        sanitize_name(text)
        return True
    except OptionsError:
        return False


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _TensorEntry:
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class _Parsed:
    tensors: dict[str, _TensorEntry]
    metadata: dict[str, str]
    data: bytes | None  # the tensor bytes (None when only the header was read)


def _label(path: Path | None, source: str | None = None) -> str:
    if path is not None:
        return f"face checkpoint {path}"
    return f"face checkpoint {source or '<data>'}"


def _pickle_message(path: Path, why: str) -> str:
    return (
        f"{_label(path)} is refused: it is a pickle-based file "
        f"({why}). FaceSwapLab never loads pickles because opening one can run any code it contains; "
        f"it was not opened. Only {SUFFIX} face checkpoints are accepted; {_REBUILD_HINT}"
    )


def _sniff_unsafe(data: bytes) -> str | None:
    """What a non-safetensors file looks like, for the message (nothing is ever unpickled).

    Only consulted AFTER the safetensors structure check failed: a valid safetensors file may
    legitimately start with 0x80 0x02 (a header of 640 bytes), so magic bytes alone must not
    decide."""
    if len(data) >= 2 and data[0] == 0x80 and 1 <= data[1] <= 5:
        return f"Python pickle data, protocol {data[1]}"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive, the layout of PyTorch .pt/.ckpt files (pickles inside)"
    if data[:6] == b"\x93NUMPY":
        return "a numpy .npy file"
    # protocol 0/1 pickles: an opcode first and STOP ('.') last
    if len(data) >= 2 and data[:1] in (b"(", b"}", b"]", b"c", b"I", b"S", b"V", b"N") and data.rstrip(b"\n")[-1:] == b".":
        return "Python pickle data (protocol 0/1)"
    return None


def _bad(label: str, what: str, fix: str | None = None) -> CheckpointError:
    fix = fix or f"the file is damaged or not a face checkpoint; copy it again, or {_REBUILD_HINT}"
    return CheckpointError(f"{label} cannot be used: {what}; {fix}")


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r} in the header")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in the header")


def _parse_header(head: bytes, file_size: int, label: str) -> tuple[dict[str, _TensorEntry], dict[str, str], int]:
    """Validate the 8-byte length and the JSON header. `head` holds at least the first
    8 + header bytes. Returns (tensors, metadata, offset of the data section)."""
    if file_size == 0:
        raise _bad(label, "the file is empty (0 bytes)", "the copy or download failed; get the file again, or " + _REBUILD_HINT)
    if file_size < 8:
        raise _structure_error(head, label, f"the file is only {file_size} bytes (truncated)")
    n = int.from_bytes(head[:8], "little")
    if n > MAX_HEADER_BYTES:
        raise _structure_error(head, label, f"its header claims {n} bytes, above the {MAX_HEADER_BYTES}-byte limit for a face checkpoint")
    if n < 2:
        raise _structure_error(head, label, f"its header length is {n} bytes (a header is a JSON object)")
    if 8 + n > file_size:
        raise _structure_error(head, label, f"the header claims {n} bytes but the file has only {file_size - 8} after the length (truncated)")
    raw = head[8 : 8 + n]
    if raw[:1] != b"{":
        raise _structure_error(head, label, "the header is not a JSON object")
    try:
        text = raw.decode("utf-8")
        header = json.loads(text, object_pairs_hook=_no_dupes, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _structure_error(head, label, f"the header is not valid JSON ({_short_err(e)})") from None
    if not isinstance(header, dict):
        raise _bad(label, "the header is not a JSON object")
    meta_raw = header.pop("__metadata__", {})
    if meta_raw is None:
        meta_raw = {}
    if not isinstance(meta_raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta_raw.items()):
        raise _bad(label, "the header's __metadata__ must map text to text")
    if len(header) > MAX_TENSORS:
        raise _bad(label, f"it holds {len(header)} tensors; a face checkpoint has a handful")
    data_len = file_size - 8 - n
    tensors: dict[str, _TensorEntry] = {}
    for key, entry in header.items():
        if not key or len(key) > 256:
            raise _bad(label, "a tensor has an empty or overlong name")
        if not isinstance(entry, dict):
            raise _bad(label, f"tensor {key!r} is not described by an object")
        dtype, shape, offs = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise _bad(label, f"tensor {key!r} has an unknown dtype {dtype!r}")
        if (
            not isinstance(shape, list)
            or len(shape) > 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 1 << 40 for d in shape)
        ):
            raise _bad(label, f"tensor {key!r} has an invalid shape {shape!r}")
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
        ):
            raise _bad(label, f"tensor {key!r} has invalid data_offsets {offs!r}")
        begin, end = offs
        if not (0 <= begin <= end):
            raise _bad(label, f"tensor {key!r} has invalid data_offsets {offs!r}")
        if end > data_len:
            raise _bad(
                label,
                f"tensor {key!r} ends at byte {end} of the data but the file holds only {data_len} data bytes (truncated)",
            )
        nbytes = math.prod(shape) * _DTYPES[dtype][1]
        if end - begin != nbytes:
            raise _bad(label, f"tensor {key!r}: shape {shape} of {dtype} needs {nbytes} bytes, the offsets give {end - begin}")
        tensors[key] = _TensorEntry(dtype, tuple(shape), begin, end)
    # the tensors must tile the data section exactly: no overlap, no gap, nothing after
    pos = 0
    for name, t in sorted(tensors.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if t.begin != pos:
            what = "overlaps another tensor" if t.begin < pos else "leaves unindexed bytes before it"
            raise _bad(label, f"tensor {name!r} {what}")
        pos = t.end
    if pos != data_len:
        raise _bad(label, f"{data_len - pos} bytes after the last tensor are not described by the header")
    return tensors, dict(meta_raw), 8 + n


def _short_err(e: BaseException) -> str:
    s = str(e) or type(e).__name__
    return s if len(s) <= 120 else s[:117] + "..."


def _structure_error(head: bytes, label: str, what: str) -> CheckpointError:
    """Not a safetensors file: say what it looks like (a pickle?) and why that is refused."""
    unsafe = _sniff_unsafe(head)
    if unsafe is not None:
        return CheckpointError(
            f"{label} is refused: it is not a safetensors file but {unsafe}. FaceSwapLab never "
            f"loads pickles because opening one can run any code it contains; it was not opened. {_REBUILD_HINT[0].upper()}{_REBUILD_HINT[1:]}"
        )
    return _bad(label, f"it is not a valid safetensors file: {what}")


def _parse_bytes(data: bytes, label: str) -> _Parsed:
    if len(data) > MAX_FILE_BYTES:
        raise _bad(label, f"it is {len(data)} bytes, above the {MAX_FILE_BYTES // (1024 * 1024)} MB limit for a face checkpoint")
    tensors, meta, start = _parse_header(data, len(data), label)
    return _Parsed(tensors, meta, data[start:])


def _read_parsed(path: Path, header_only: bool = False) -> _Parsed:
    label = _label(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(_pickle_message(path, f"{path.suffix} extension"))
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CheckpointError(f"{label} does not exist; check the path") from None
    except OSError as e:
        raise CheckpointError(f"{label} cannot be read ({e.strerror or e}); check its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{label} is a folder; give the path of a {SUFFIX} file")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{label} is not a regular file; give the path of a {SUFFIX} file")
    if st.st_size > MAX_FILE_BYTES:
        raise _bad(label, f"it is {st.st_size} bytes, above the {MAX_FILE_BYTES // (1024 * 1024)} MB limit for a face checkpoint")
    try:
        with open(path, "rb") as f:
            if header_only:
                head = f.read(8)
                if len(head) == 8:
                    n = int.from_bytes(head, "little")
                    if 2 <= n <= MAX_HEADER_BYTES:
                        head += f.read(n)
                    else:
                        head += f.read(64)  # enough to tell a pickle from noise
                tensors, meta, _ = _parse_header(head, st.st_size, label)
                return _Parsed(tensors, meta, None)
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{label} cannot be read ({e.strerror or e}); check the file") from None
    return _parse_bytes(data, label)


def _tensor(parsed: _Parsed, key: str, label: str) -> np.ndarray:
    t = parsed.tensors[key]
    np_dtype = _DTYPES[t.dtype][0]
    if np_dtype is None:
        raise _bad(label, f"tensor {key!r} has dtype {t.dtype}, which FaceSwapLab cannot read here")
    assert parsed.data is not None
    count = math.prod(t.shape)
    arr = np.frombuffer(parsed.data, dtype=np.dtype(np_dtype), count=count, offset=t.begin)
    return arr.reshape(t.shape).astype(np.dtype(np_dtype).newbyteorder("="), copy=True)


def _is_ours(meta: Mapping[str, str]) -> bool:
    return str(meta.get("format", "")).startswith(FORMAT_NAME)


def _format_version(meta: Mapping[str, str], label: str) -> int:
    fmt = meta.get("format", "")
    m = re.fullmatch(re.escape(FORMAT_NAME) + r"/(\d{1,6})", fmt)
    if not m:
        raise _bad(label, f"its format {fmt!r} is not {FORMAT_NAME}/<version>")
    version = int(m.group(1))
    if version < 1:
        raise _bad(label, f"its format version {version} is invalid")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{label} was written in {FORMAT_NAME} version {version}, newer than this FaceSwapLab reads "
            f"(version {FORMAT_VERSION}); update FaceSwapLab, or rebuild the checkpoint with this version"
        )
    return version


def _embedding_vector(parsed: _Parsed, label: str, strict: bool) -> np.ndarray:
    if "embedding" not in parsed.tensors:
        present = ", ".join(sorted(parsed.tensors)) or "no tensors"
        raise _bad(label, f"it has no 'embedding' tensor (found: {present})")
    t = parsed.tensors["embedding"]
    if strict:
        if t.dtype != "F32" or t.shape != (EMBEDDING_DIM,):
            raise _bad(label, f"'embedding' must be F32 [{EMBEDDING_DIM}], found {t.dtype} {list(t.shape)}")
    else:
        if t.dtype not in _FLOAT_DTYPES or t.shape not in ((EMBEDDING_DIM,), (1, EMBEDDING_DIM)):
            raise _bad(label, f"'embedding' must be a float vector of {EMBEDDING_DIM} values, found {t.dtype} {list(t.shape)}")
    vec = _tensor(parsed, "embedding", label).astype(np.float64).reshape(-1)
    return _normalised_rows(vec[None], label, "'embedding'")[0]


def _normalised_rows(rows: np.ndarray, label: str, what: str) -> np.ndarray:
    if not np.all(np.isfinite(rows)):
        raise _bad(label, f"{what} contains NaN or infinite values")
    norms = np.linalg.norm(rows, axis=1)
    if np.any(norms < 1e-6):
        raise _bad(label, f"{what} is all zeros (no identity)" if len(rows) == 1 else f"{what} has an all-zero row")
    return (rows / norms[:, None]).astype(np.float32)


def _scalar(parsed: _Parsed, key: str, label: str) -> float | None:
    if key not in parsed.tensors:
        return None
    t = parsed.tensors[key]
    if t.dtype not in _NUMERIC_DTYPES or t.shape not in ((), (1,)):
        raise _bad(label, f"{key!r} must be one number, found {t.dtype} {list(t.shape)}")
    v = float(_tensor(parsed, key, label).reshape(-1)[0])
    if not math.isfinite(v):
        raise _bad(label, f"{key!r} is NaN or infinite")
    return v


def _decode(parsed: _Parsed, label: str, path: Path | None) -> Checkpoint:
    meta = parsed.metadata
    ours = _is_ours(meta)
    version = _format_version(meta, label) if ours else None
    emb = _embedding_vector(parsed, label, strict=ours)

    embeddings: np.ndarray | None = None
    if "embeddings" in parsed.tensors:
        t = parsed.tensors["embeddings"]
        ok_dtype = t.dtype == "F32" if ours else t.dtype in _FLOAT_DTYPES
        if not ok_dtype or len(t.shape) != 2 or t.shape[1] != EMBEDDING_DIM or not 1 <= t.shape[0] <= MAX_SAMPLES:
            raise _bad(label, f"'embeddings' must be F32 [N,{EMBEDDING_DIM}] with 1 <= N <= {MAX_SAMPLES}, found {t.dtype} {list(t.shape)}")
        embeddings = _normalised_rows(_tensor(parsed, "embeddings", label).astype(np.float64), label, "'embeddings'")

    g = _scalar(parsed, "gender", label)
    gender: str | None = None
    if g is not None:
        code = int(round(g))
        if code in GENDER_NAMES and abs(g - code) < 1e-3:
            gender = GENDER_NAMES[code]
        elif ours and code != -1:
            raise _bad(label, f"'gender' must be 0 (female), 1 (male) or -1 (unknown), found {g:g}")
    a = _scalar(parsed, "age", label)
    age: int | None = None
    if a is not None:
        if 0 <= a <= MAX_AGE:
            age = int(round(a))
        elif ours and a != -1:
            raise _bad(label, f"'age' must be between 0 and {MAX_AGE} (or -1 for unknown), found {a:g}")

    samples = 1
    method: str | None = None
    if ours:
        try:
            samples = int(meta.get("samples", "1"))
        except ValueError:
            raise _bad(label, f"metadata 'samples' must be a whole number, found {meta.get('samples')!r}") from None
        if not 1 <= samples <= MAX_SAMPLES:
            raise _bad(label, f"metadata 'samples' must be between 1 and {MAX_SAMPLES}, found {samples}")
        if embeddings is not None and embeddings.shape[0] != samples:
            raise _bad(label, f"metadata says {samples} samples but 'embeddings' holds {embeddings.shape[0]}")
        method = meta.get("blend", "mean")
        if method not in BLEND_METHODS:
            raise _bad(label, f"metadata 'blend' must be one of {', '.join(BLEND_METHODS)}, found {method!r}")
    elif embeddings is not None:
        samples = embeddings.shape[0]

    stem = _stem(path) if path is not None else "checkpoint"
    display = _display_name(meta.get("name", "")) or stem
    ident = Identity(
        embedding=emb,
        gender=gender,
        age=age,
        samples=samples,
        label=path.name if path is not None else display,
        embeddings=embeddings if embeddings is not None else emb[None].copy(),
    )
    return Checkpoint(
        identity=ident,
        name=display,
        path=path,
        metadata=dict(meta),
        legacy=not ours,
        format_version=version,
        blend_method=method,
        created=meta.get("created"),
        embedding_model=meta.get("embedding_model") or None,
        embedding_model_sha256=meta.get("embedding_model_sha256") or None,
    )


def decode_checkpoint(data: bytes, source: str = "<upload>") -> Checkpoint:
    """Validate and decode checkpoint bytes (an HTTP upload, for instance)."""
    label = _label(None, source)
    return _decode(_parse_bytes(bytes(data), label), label, None)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Validate and load one checkpoint file (ours or an older tool's safetensors layout).

    Raises CheckpointError (exit code 2) naming the file, what is wrong and what to do.
    """
    p = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    label = _label(p)
    return _decode(_read_parsed(p), label, p)


def load_checkpoint_identity(
    face: str | os.PathLike[str], store: "ModelStore | None", *, folder: str | os.PathLike[str] | None = None
) -> Identity:
    """The identity of a checkpoint given by name (in `folder`, else `<models dir>/faces/`) or path."""
    return load_checkpoint(resolve_checkpoint(face, store, folder=folder)).identity


# --------------------------------------------------------------------------- writing


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
    tensors["gender"] = np.array(GENDER_CODES.get(identity.gender or "", -1), np.int64)
    tensors["age"] = np.array(-1 if identity.age is None else int(identity.age), np.int64)
    metadata = {
        "format": f"{FORMAT_NAME}/{FORMAT_VERSION}",
        "name": _display_name(name) or "face",
        "samples": str(n),
        "blend": blend_method,
        "embedding_model": EMBEDDING_MODEL,
        "embedding_model_sha256": embedding_model_sha256 or "",
        "created": created or _now_iso(),
        "generator": f"{TOOL_NAME} {__version__}",
    }
    return save(tensors, metadata=metadata)


def _write_temp(folder: Path, stem: str, data: bytes) -> Path:
    """Write `data` to a hidden temporary file in `folder` (hidden: folder listings skip it
    even if a crash leaves it behind) and flush it to disk."""
    tmp = folder / f".{stem[:60]}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            view = memoryview(data)
            for i in range(0, len(view), 1 << 16):
                fh.write(view[i : i + (1 << 16)])
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return tmp


def _unlink_quiet(p: Path) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _commit(tmp: Path, folder: Path, stem: str, overwrite: bool) -> Path:
    """Move the finished temp file to `<stem>.safetensors` (or `<stem>_1`, `_2`... when the
    name is taken and `overwrite` is off). Without overwrite the move uses a hard link, which
    fails atomically when the name exists, so a file created meanwhile is never clobbered."""
    if overwrite:
        dest = folder / f"{stem}{SUFFIX}"
        os.replace(tmp, dest)
        return dest
    for i in range(0, 10_000):
        dest = folder / (f"{stem}{SUFFIX}" if i == 0 else f"{stem}_{i}{SUFFIX}")
        if dest.exists() or dest.is_symlink():
            continue
        try:
            os.link(tmp, dest)
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system: best effort check-then-rename
            if dest.exists():
                continue
            os.replace(tmp, dest)
            return dest
        _unlink_quiet(tmp)
        return dest
    raise OptionsError(f"too many checkpoints named {stem}_N in {folder}; choose another name")


def save_checkpoint(
    identity: Identity,
    folder: str | os.PathLike[str],
    name: str,
    *,
    overwrite: bool = False,
    blend_method: str = "mean",
    embedding_model_sha256: str | None = None,
) -> Path:
    """Write `identity` atomically as `<folder>/<sanitised name>.safetensors` and return the
    path. An existing file is kept (the new one gets `_1`, `_2`...) unless `overwrite`."""
    stem = sanitize_name(name)
    folder_p = Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    data = encode_checkpoint(identity, name=name, blend_method=blend_method, embedding_model_sha256=embedding_model_sha256)
    try:
        folder_p.mkdir(parents=True, exist_ok=True)
        tmp = _write_temp(folder_p, stem, data)
        try:
            dest = _commit(tmp, folder_p, stem, overwrite)
        except BaseException:
            _unlink_quiet(tmp)
            raise
    except OSError as e:  # the file system, not the input: exit 1 like imageio.save_image
        raise FaceSwapLabError(
            f"could not write the face checkpoint into {folder_p} ({e.strerror or e}); "
            "check that the folder is writable and the disk is not full"
        ) from None
    fsync_dir(folder_p)
    if dest.parent != folder_p:  # cannot happen with a sanitised name; keep the guarantee explicit
        raise OptionsError(f"refusing to write outside {folder_p}")
    return dest


# --------------------------------------------------------------------------- building


def embedding_model_sha256(engine: "Engine") -> str | None:
    """sha256 of the engine's recognition model (cached by the store), recorded in checkpoints."""
    try:
        return engine.store.status(EMBEDDING_MODEL_FILE, "recognition").sha256
    except Exception:  # the sha is informative only; never fail a build over it
        return None


def _source_name(img: Any, i: int) -> str:
    if isinstance(img, (str, os.PathLike)):
        return os.path.basename(os.fspath(img)) or os.fspath(img)
    return f"image {i + 1}"


def build_identity(
    engine: "Engine",
    images: Sequence[Any],
    *,
    face_index: int | None = None,
    gender: str = "auto",
    blend_method: str = "mean",
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> tuple[Identity, list[str], list[str]]:
    """Analyse each image, take one face from each (the largest, or the `face_index`-th from
    the left), blend them (mean or median of normalised embeddings), gender by majority unless
    forced, age by median. Returns (identity, used source names, skipped messages).

    Raises NoFaceError when no image has a usable face, ImageError for unreadable images."""
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
        _, faces = engine.analyse(img, what=f"photo {i + 1}", attributes=True)
        if face_index is None:
            face = largest(faces)
        else:
            face = pick_source_face(faces, face_index)
        if face is None or face.embedding is None:
            if not faces:
                skipped.append(f"no face in {name}")
            else:
                skipped.append(f"face index {face_index} out of range in {name}: {len(faces)} face(s) found")
            continue
        used.append(name)
        parts.append(Identity(embedding=face.embedding, gender=face.gender, age=face.age, samples=1, label=name))
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
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> BuildResult:
    """Build a checkpoint from photos and save it (default folder: `<models dir>/faces/`).

    With `preview` (a neutral image with a face), the new identity is swapped into it and the
    result saved beside the checkpoint as `<name>.png`; a preview that cannot be made is a
    warning, the checkpoint is still written."""
    sanitize_name(name)  # fail on a bad name before the slow part
    preview_img = None
    if preview is not None:
        from .imageio import load_image

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


def _make_preview(engine: "Engine", image: Any, ckpt: Path, result: BuildResult) -> None:
    from .imageio import save_image
    from .options import UnitOptions
    from .pipeline import swap_image

    unit = UnitOptions(face=str(ckpt), faces=(0,), sort="large-small")
    swapped = swap_image(image, [unit], engine=engine)
    if swapped.report.swapped == 0:
        result.warnings.append(f"no preview written: {swapped.report.nothing_swapped_reason()}")
        return
    out = ckpt.with_name(_stem(ckpt) + ".png")
    save_image(out, swapped.image.rgb, alpha=swapped.image.alpha, meta=swapped.image.meta)
    result.preview = out


# --------------------------------------------------------------------------- compare


@dataclass
class CompareSide:
    kind: str  # "image" | "checkpoint"
    label: str
    embedding: np.ndarray
    faces: list[Face] = field(default_factory=list)  # every face found (images)
    face: Face | None = None  # the face compared (images)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.kind == "image":
            d["faces_found"] = len(self.faces)
            d["face"] = self.face.summary() if self.face is not None else None
        return d


@dataclass
class CompareResult:
    similarity: float  # cosine of normalised embeddings, clamped to [0, 1]
    a: CompareSide
    b: CompareSide

    @property
    def faces_a(self) -> list[Face]:
        return self.a.faces

    @property
    def faces_b(self) -> list[Face]:
        return self.b.faces

    def to_dict(self) -> dict[str, Any]:
        return {"similarity": round(self.similarity, 6), "a": self.a.to_dict(), "b": self.b.to_dict()}


def _looks_like_checkpoint(ref: Any, store: "ModelStore") -> bool:
    if isinstance(ref, (Identity, Checkpoint)):
        return True
    if not isinstance(ref, (str, os.PathLike)):
        return False
    text = os.fspath(ref)
    if isinstance(text, bytes):
        return False
    suffix = Path(text).suffix.lower()
    if suffix == SUFFIX or suffix in PICKLE_SUFFIXES:
        return True
    if Path(os.path.expanduser(text)).exists():
        return False  # an existing file of another kind: an image
    from .imageio import SAVE_FORMATS

    # a name that is no file: a checkpoint name unless it plainly names an image
    return _is_bare_name(text.strip()) and suffix not in SAVE_FORMATS


def _compare_side(engine: "Engine", ref: Any, index: int, what: str) -> CompareSide:
    if isinstance(ref, Checkpoint):
        return CompareSide("checkpoint", ref.name, ref.identity.embedding)
    if isinstance(ref, Identity):
        return CompareSide("checkpoint", ref.label or "identity", ref.embedding)
    if _looks_like_checkpoint(ref, engine.store):
        ck = load_checkpoint(resolve_checkpoint(ref, engine.store))
        return CompareSide("checkpoint", ck.path.name if ck.path else ck.name, ck.identity.embedding)
    loaded, faces = engine.analyse(ref, what=what, attributes=False)
    face = pick_source_face(faces, index)
    label = loaded.source
    if face is None or face.embedding is None:
        if not faces:
            raise NoFaceError(f"no face found in {what} ({label})")
        raise NoFaceError(f"face index {index} out of range in {what} ({label}): {len(faces)} face(s) found")
    return CompareSide("image", label, face.embedding, faces=faces, face=face)


def compare_faces(engine: "Engine", a: Any, b: Any, *, index_a: int = 0, index_b: int = 0) -> CompareResult:
    """Similarity of two faces: each side an image (its `index`-th face from the left, the first
    by default) or a checkpoint (name, path, Checkpoint or Identity). NoFaceError when an image
    has no such face."""
    side_a = _compare_side(engine, a, index_a, "image A")
    side_b = _compare_side(engine, b, index_b, "image B")
    return CompareResult(similarity(side_a.embedding, side_b.embedding), side_a, side_b)


# --------------------------------------------------------------------------- extract

#: Suggested aligned crop sizes (any multiple of 112 or 128 up to 2048 works).
ALIGNED_SIZES = (112, 128, 224, 256, 448, 512, 1024)
MAX_ALIGNED_SIZE = 2048


@dataclass
class ExtractedFace:
    rgb: np.ndarray  # the crop, (H, W, 3) uint8
    face: Face
    index: int  # position in left-to-right order (what --faces and --source-face-index mean)
    box: tuple[int, int, int, int] | None = None  # image rectangle of a box crop
    matrix: np.ndarray | None = None  # image -> crop affine of an aligned crop


def check_aligned_size(size: Any) -> int:
    try:
        s = int(size)
    except (TypeError, ValueError):
        raise OptionsError(f"aligned size must be a whole number of pixels, got {size!r}") from None
    if s <= 0 or s > MAX_ALIGNED_SIZE or (s % 112 and s % 128):
        raise OptionsError(
            f"aligned size must be a multiple of 112 or 128 up to {MAX_ALIGNED_SIZE} "
            f"(e.g. {', '.join(str(x) for x in ALIGNED_SIZES)}), got {s}"
        )
    return s


def extract_faces(
    engine: "Engine",
    image: Any,
    *,
    aligned_size: int | None = None,
    margin: float = 0.2,
    min_face_size: int = 0,
) -> list[ExtractedFace]:
    """Every face of `image`, left to right, as an ArcFace-aligned square crop of
    `aligned_size` px, or (default) as its bounding box grown by `margin` (a fraction of the
    box size on each side), clipped to the image. Faces smaller than `min_face_size` px are
    left out. An image without faces gives an empty list."""
    import cv2

    from . import geometry

    size = check_aligned_size(aligned_size) if aligned_size is not None else None
    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise OptionsError(f"margin must be a number between 0 and 2, got {margin!r}") from None
    if not 0.0 <= margin <= 2.0:
        raise OptionsError(f"margin must be between 0 and 2 (a fraction of the face box), got {margin}")
    loaded, faces = engine.analyse(image, what="image", attributes=False)
    rgb = loaded.rgb
    h, w = rgb.shape[:2]
    out: list[ExtractedFace] = []
    for idx, face in enumerate(sort_faces(faces, "left-right")):
        if face.size < min_face_size:
            continue
        if size is not None:
            m = geometry.align_matrix(face.kps, size)
            crop = geometry.warp_to_aligned(rgb, m, size, border=cv2.BORDER_CONSTANT)
            out.append(ExtractedFace(np.ascontiguousarray(crop), face, idx, matrix=m))
            continue
        x1, y1, x2, y2 = (float(v) for v in face.bbox)
        mx, my = (x2 - x1) * margin, (y2 - y1) * margin
        x0i, y0i = max(int(math.floor(x1 - mx)), 0), max(int(math.floor(y1 - my)), 0)
        x1i, y1i = min(int(math.ceil(x2 + mx)), w), min(int(math.ceil(y2 + my)), h)
        if x1i <= x0i or y1i <= y0i:
            continue
        out.append(ExtractedFace(rgb[y0i:y1i, x0i:x1i].copy(), face, idx, box=(x0i, y0i, x1i, y1i)))
    return out

