"""The safetensors container of a face checkpoint, read by our own validating parser.

Nothing is ever unpickled. Older face files were pickles (``.pkl``), and PyTorch ``.pt`` /
``.ckpt`` files are zipped pickles; unpickling runs whatever code the file names. Such files
are refused by extension and, when renamed, by their content, with a message saying how to
rebuild the checkpoint from photos.

The structure is validated here before a single tensor is read: header length, JSON, dtypes,
shapes, offsets inside the file, no overlap, no trailing bytes, bounded file and header sizes.
Tensors are then read with ``numpy.frombuffer`` from the validated offsets, so no third-party
loader ever sees an unvalidated file. What the tensors mean (the face layout) is `format`'s
business; this module knows only the container.
"""

from __future__ import annotations

import json
import math
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

SUFFIX = ".safetensors"

#: Refused by name: pickle-based formats (unpickling executes code).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".joblib")

#: A face header is a few hundred bytes (even a 1.x / ReActor file with landmarks is < 2 KB).
MAX_HEADER_BYTES = 100_000
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TENSORS = 64

# safetensors dtype -> (numpy little-endian dtype or None when numpy cannot hold it, itemsize)
DTYPES: dict[str, tuple[str | None, int]] = {
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

REBUILD_HINT = (
    "rebuild it from photos of the person: python -m faceswaplab build --name NAME photo1.jpg "
    "photo2.jpg ... (or in the web-ui's FaceSwapLab tab)"
)


@dataclass(frozen=True)
class TensorEntry:
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class Parsed:
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str]
    data: bytes | None  # the tensor bytes (None when only the header was read)


def file_stem(path: Path) -> str:
    """The checkpoint name of a file: `a.b.safetensors` is `a.b`, whatever the suffix's case."""
    n = path.name
    return n[: -len(SUFFIX)] if n.lower().endswith(SUFFIX) else path.stem


def label_for(path: Path | None, source: str | None = None) -> str:
    if path is not None:
        return f"face checkpoint {path}"
    return f"face checkpoint {source or '<data>'}"


def pickle_message(path: Path, why: str) -> str:
    return (
        f"{label_for(path)} is refused: it is a pickle-based file "
        f"({why}). FaceSwapLab never loads pickles because opening one can run any code it contains; "
        f"it was not opened. Only {SUFFIX} face checkpoints are accepted; {REBUILD_HINT}"
    )


def bad(label: str, what: str, fix: str | None = None) -> CheckpointError:
    """The one shape of a "this file cannot be used" message: which file, what, what to do."""
    fix = fix or f"the file is damaged or not a face checkpoint; copy it again, or {REBUILD_HINT}"
    return CheckpointError(f"{label} cannot be used: {what}; {fix}")


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


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r} in the header")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in the header")


def _short_err(e: BaseException) -> str:
    s = str(e) or type(e).__name__
    return s if len(s) <= 120 else s[:117] + "..."


def _structure_error(head: bytes, label: str, what: str) -> CheckpointError:
    """Not a safetensors file: say what it looks like (a pickle?) and why that is refused."""
    unsafe = _sniff_unsafe(head)
    if unsafe is not None:
        return CheckpointError(
            f"{label} is refused: it is not a safetensors file but {unsafe}. FaceSwapLab never "
            f"loads pickles because opening one can run any code it contains; it was not opened. "
            f"{REBUILD_HINT[0].upper()}{REBUILD_HINT[1:]}"
        )
    return bad(label, f"it is not a valid safetensors file: {what}")


def _check_length(head: bytes, file_size: int, label: str) -> int:
    """The header length from the first 8 bytes, checked against the limits and the file."""
    if file_size == 0:
        raise bad(label, "the file is empty (0 bytes)", "the copy or download failed; get the file again, or " + REBUILD_HINT)
    if file_size < 8:
        raise _structure_error(head, label, f"the file is only {file_size} bytes (truncated)")
    n = int.from_bytes(head[:8], "little")
    if n > MAX_HEADER_BYTES:
        raise _structure_error(
            head, label, f"its header claims {n} bytes, above the {MAX_HEADER_BYTES}-byte limit for a face checkpoint"
        )
    if n < 2:
        raise _structure_error(head, label, f"its header length is {n} bytes (a header is a JSON object)")
    if 8 + n > file_size:
        raise _structure_error(
            head, label, f"the header claims {n} bytes but the file has only {file_size - 8} after the length (truncated)"
        )
    return n


def _tensor_entry(key: str, entry: Any, data_len: int, label: str) -> TensorEntry:
    if not key or len(key) > 256:
        raise bad(label, "a tensor has an empty or overlong name")
    if not isinstance(entry, dict):
        raise bad(label, f"tensor {key!r} is not described by an object")
    dtype, shape, offs = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise bad(label, f"tensor {key!r} has an unknown dtype {dtype!r}")
    if (
        not isinstance(shape, list)
        or len(shape) > 8
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 1 << 40 for d in shape)
    ):
        raise bad(label, f"tensor {key!r} has an invalid shape {shape!r}")
    if not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs):
        raise bad(label, f"tensor {key!r} has invalid data_offsets {offs!r}")
    begin, end = offs
    if not (0 <= begin <= end):
        raise bad(label, f"tensor {key!r} has invalid data_offsets {offs!r}")
    if end > data_len:
        raise bad(
            label, f"tensor {key!r} ends at byte {end} of the data but the file holds only {data_len} data bytes (truncated)"
        )
    nbytes = math.prod(shape) * DTYPES[dtype][1]
    if end - begin != nbytes:
        raise bad(label, f"tensor {key!r}: shape {shape} of {dtype} needs {nbytes} bytes, the offsets give {end - begin}")
    return TensorEntry(dtype, tuple(shape), begin, end)


def _parse_header(head: bytes, file_size: int, label: str) -> tuple[dict[str, TensorEntry], dict[str, str], int]:
    """Validate the 8-byte length and the JSON header. `head` holds at least the first
    8 + header bytes. Returns (tensors, metadata, offset of the data section)."""
    n = _check_length(head, file_size, label)
    raw = head[8 : 8 + n]
    if raw[:1] != b"{":
        raise _structure_error(head, label, "the header is not a JSON object")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_dupes, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _structure_error(head, label, f"the header is not valid JSON ({_short_err(e)})") from None
    if not isinstance(header, dict):
        raise bad(label, "the header is not a JSON object")
    meta_raw = header.pop("__metadata__", {})
    if meta_raw is None:
        meta_raw = {}
    if not isinstance(meta_raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta_raw.items()):
        raise bad(label, "the header's __metadata__ must map text to text")
    if len(header) > MAX_TENSORS:
        raise bad(label, f"it holds {len(header)} tensors; a face checkpoint has a handful")
    data_len = file_size - 8 - n
    tensors = {key: _tensor_entry(key, entry, data_len, label) for key, entry in header.items()}
    # the tensors must tile the data section exactly: no overlap, no gap, nothing after
    pos = 0
    for name, t in sorted(tensors.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if t.begin != pos:
            what = "overlaps another tensor" if t.begin < pos else "leaves unindexed bytes before it"
            raise bad(label, f"tensor {name!r} {what}")
        pos = t.end
    if pos != data_len:
        raise bad(label, f"{data_len - pos} bytes after the last tensor are not described by the header")
    return tensors, dict(meta_raw), 8 + n


def _too_big(label: str, size: int) -> CheckpointError:
    return bad(label, f"it is {size} bytes, above the {MAX_FILE_BYTES // (1024 * 1024)} MB limit for a face checkpoint")


def parse_bytes(data: bytes, label: str) -> Parsed:
    """A whole file's bytes (an upload, or what `read_file` read), validated."""
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(label, len(data))
    tensors, meta, start = _parse_header(data, len(data), label)
    return Parsed(tensors, meta, data[start:])


def read_file(path: Path, header_only: bool = False) -> Parsed:
    """One file, refused by its extension or size before it is opened, then validated.
    `header_only` (listings) reads just the header, so a folder of files lists cheaply."""
    label = label_for(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(pickle_message(path, f"{path.suffix} extension"))
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
        raise _too_big(label, st.st_size)
    try:
        with open(path, "rb") as f:
            if header_only:
                head = f.read(8)
                if len(head) == 8:
                    n = int.from_bytes(head, "little")
                    head += f.read(n) if 2 <= n <= MAX_HEADER_BYTES else f.read(64)  # 64: tells a pickle from noise
                tensors, meta, _ = _parse_header(head, st.st_size, label)
                return Parsed(tensors, meta, None)
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{label} cannot be read ({e.strerror or e}); check the file") from None
    return parse_bytes(data, label)


def tensor_array(parsed: Parsed, key: str, label: str) -> np.ndarray:
    """A validated tensor as a native-byte-order numpy copy (never a view of the file data)."""
    t = parsed.tensors[key]
    np_dtype = DTYPES[t.dtype][0]
    if np_dtype is None:
        raise bad(label, f"tensor {key!r} has dtype {t.dtype}, which FaceSwapLab cannot read here")
    if parsed.data is None:
        raise ValueError("tensor_array needs the data section; the file was read header-only")
    count = math.prod(t.shape)
    arr = np.frombuffer(parsed.data, dtype=np.dtype(np_dtype), count=count, offset=t.begin)
    return arr.reshape(t.shape).astype(np.dtype(np_dtype).newbyteorder("="), copy=True)


__all__ = [
    "SUFFIX",
    "PICKLE_SUFFIXES",
    "MAX_HEADER_BYTES",
    "MAX_FILE_BYTES",
    "MAX_TENSORS",
    "DTYPES",
    "REBUILD_HINT",
    "TensorEntry",
    "Parsed",
    "file_stem",
    "label_for",
    "pickle_message",
    "bad",
    "parse_bytes",
    "read_file",
    "tensor_array",
]
