"""Face checkpoint test helpers shared by the checkpoint and CLI tests: synthetic photos of
a few identities, a models dir with a private faces/ folder, hand-built safetensors bytes
(valid and every kind of malformed), a pickle whose unpickling would leave a marker, and a
content filter stand-in that counts what it is shown. The fixtures live in the test modules
that use them (or conftest.py when shared)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from tests import fakemodels

IDENT_A, IDENT_B, IDENT_C = 7, 21, 33  # texture seeds = identities


def photo(path: Path, seed: int, *, tex: int = IDENT_A, side: int = 140, x: int = 60, colour=fakemodels.FEMALE) -> Path:
    img = fakemodels.make_face_image((320, 300), faces=[(x, 50, side, colour, tex)], seed=seed)
    Image.fromarray(img).save(path)
    return path


def blank(path: Path) -> Path:
    Image.fromarray(fakemodels.make_face_image((200, 200), faces=[], seed=5)).save(path)
    return path


def make_private_models(base: Path, shared: Path) -> Path:
    """A models dir of its own (so its faces/ folder is private) over the shared model files."""
    base.mkdir(parents=True, exist_ok=True)
    for name in ("buffalo_l", "inswapper_128.onnx"):
        dst = base / name
        try:
            os.symlink(shared / name, dst)
        except OSError:  # no symlinks here: copy (the stand-in models are small)
            if (shared / name).is_dir():
                shutil.copytree(shared / name, dst)
            else:
                shutil.copy2(shared / name, dst)
    return base


def raw_safetensors(tensors: dict, metadata: dict | None = None, *, header_extra: dict | None = None) -> bytes:
    """Hand-built safetensors bytes (tensors: name -> (dtype, shape, bytes)), so tests can make
    files the library would refuse to write."""
    header: dict = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    header.update(header_extra or {})
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def unit_vec(seed: int = 0, scale: float = 1.0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(512)
    return (v / np.linalg.norm(v) * scale).astype(np.float32)


OURS_META = {"format": "faceswaplab.face/1", "name": "x", "samples": "1", "blend": "mean"}


def ours(emb=None, *, meta=None, extra=None, drop=()) -> bytes:
    emb = unit_vec() if emb is None else emb
    t = {
        "embedding": ("F32", [512], np.asarray(emb, "<f4").tobytes()),
        "gender": ("I64", [], np.array(0, "<i8").tobytes()),
        "age": ("I64", [], np.array(30, "<i8").tobytes()),
    }
    t.update(extra or {})
    for k in drop:
        t.pop(k)
    return raw_safetensors(t, dict(OURS_META, **(meta or {})))


def _valid_bytes() -> bytes:
    return ours()


def _oversized_header() -> bytes:
    return struct.pack("<Q", 10**9) + b"{" + b" " * 100


def _big_header_real() -> bytes:
    h = b'{"__metadata__":{"pad":"' + b"x" * 200_000 + b'"}}'
    return struct.pack("<Q", len(h)) + h


def _dupe_keys() -> bytes:
    h = b'{"embedding":{"dtype":"F32","shape":[512],"data_offsets":[0,2048]},"embedding":{"dtype":"F32","shape":[512],"data_offsets":[0,2048]}}'
    return struct.pack("<Q", len(h)) + h + unit_vec().tobytes()


def _overlap() -> bytes:
    e = unit_vec().tobytes()
    h = json.dumps(
        {
            "embedding": {"dtype": "F32", "shape": [512], "data_offsets": [0, 2048]},
            "age": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        }
    ).encode()
    return struct.pack("<Q", len(h)) + h + e


def _offsets_past_end() -> bytes:
    h = json.dumps({"embedding": {"dtype": "F32", "shape": [512], "data_offsets": [0, 2048]}}).encode()
    return struct.pack("<Q", len(h)) + h + b"\0" * 100


def _nan() -> bytes:
    v = unit_vec()
    v[10] = np.nan
    return ours(v)


def _inf() -> bytes:
    v = unit_vec()
    v[3] = np.inf
    return ours(v)


def _zero_row() -> bytes:
    rows = np.stack([unit_vec(1), np.zeros(512, np.float32)])
    return ours(meta={"samples": "2"}, extra={"embeddings": ("F32", [2, 512], rows.astype("<f4").tobytes())})


#: name -> (file bytes, a phrase the message must contain)
MALFORMED: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty"),
    "too-short": (b"\x10\x00\x00", "truncated"),
    "truncated-header": (_valid_bytes()[:40], "truncated"),
    "truncated-data": (_valid_bytes()[:-100], "truncated"),
    "corrupt-noise": (bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8)), "not a valid safetensors"),
    "oversized-header": (_oversized_header(), "limit"),
    "oversized-header-real": (_big_header_real(), "limit"),
    "non-json-header": (struct.pack("<Q", 16) + b"{not json at all" + b"\0" * 8, "not valid JSON"),
    "json-array-header": (struct.pack("<Q", 8) + b"[1,2,3] ", "not a JSON object"),
    "duplicate-keys": (_dupe_keys(), "duplicate"),
    "missing-embedding": (ours(drop=("embedding",)), "no 'embedding'"),
    "wrong-dtype": (raw_safetensors({"embedding": ("F64", [512], unit_vec().astype("<f8").tobytes())}, OURS_META), "F32"),
    "wrong-dtype-legacy": (raw_safetensors({"embedding": ("I32", [512], np.ones(512, "<i4").tobytes())}), "float"),
    "wrong-shape": (raw_safetensors({"embedding": ("F32", [256], unit_vec()[:256].tobytes())}, OURS_META), "[512]"),
    "wrong-shape-embeddings": (
        ours(meta={"samples": "3"}, extra={"embeddings": ("F32", [3, 511], np.ones((3, 511), "<f4").tobytes())}),
        "embeddings",
    ),
    "unknown-dtype": (raw_safetensors({"embedding": ("F33", [512], unit_vec().tobytes())}), "unknown dtype"),
    "size-mismatch": (raw_safetensors({"embedding": ("F32", [512], unit_vec().tobytes()[:-4])}), "needs 2048 bytes"),
    "overlapping": (_overlap(), "overlaps"),
    "offsets-past-end": (_offsets_past_end(), "truncated"),
    "trailing-bytes": (_valid_bytes() + b"\0" * 16, "not described"),
    "nan": (_nan(), "NaN"),
    "inf": (_inf(), "infinite"),
    "zero-vector": (ours(np.zeros(512, np.float32)), "all zeros"),
    "zero-row": (_zero_row(), "all-zero row"),
    "bad-gender": (ours(extra={"gender": ("I64", [], np.array(7, "<i8").tobytes())}), "'gender'"),
    "bad-age": (ours(extra={"age": ("I64", [], np.array(900, "<i8").tobytes())}), "'age'"),
    "nan-gender-legacy": (
        raw_safetensors(
            {"embedding": ("F32", [512], unit_vec().tobytes()), "gender": ("F32", [], np.array(np.nan, "<f4").tobytes())}
        ),
        "NaN",
    ),
    "samples-mismatch": (
        ours(meta={"samples": "5"}, extra={"embeddings": ("F32", [2, 512], np.stack([unit_vec(1), unit_vec(2)]).tobytes())}),
        "samples",
    ),
    "bad-blend": (ours(meta={"blend": "max"}), "blend"),
    "newer-format": (ours(meta={"format": "faceswaplab.face/9"}), "newer"),
    "metadata-not-text": (raw_safetensors({"embedding": ("F32", [512], unit_vec().tobytes())}, {"samples": 3}), "__metadata__"),
}


class _Boom:
    """Unpickling this runs os.mkdir(marker): proof of code execution if it ever happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps({"embedding": [0.1] * 512, "boom": _Boom(marker)}, protocol=4)


def mark_blocked(path: Path) -> Path:
    """Paint the corner patch `GateSpy` blocks on (a pure red 4x4 square, top left)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).copy()
    rgb[0:4, 0:4] = (255, 0, 0)
    Image.fromarray(rgb).save(path)
    return path


class GateSpy:
    """A content filter stand-in that blocks images marked by `mark_blocked` and records the
    size of every image it is shown, so a test can tell each image was filtered exactly once."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def detect(self, bgr):
        self.seen.append(tuple(bgr.shape[:2]))
        if (bgr[0:4, 0:4] == (0, 0, 255)).all():  # the detector gets BGR
            return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.97, "box": [0, 0, 4, 4]}]
        return [{"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 4, 4]}]
