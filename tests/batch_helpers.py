"""Folder-job test helpers shared by the batch, dataset and kill tests: synthetic target
photos (with faces, without, broken, blocked), a content filter stand-in, and readers of
what a job left in its output folder. The fixtures built on them live in conftest.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from PIL import Image

from faceswaplab.batch import MANIFEST_NAME
from faceswaplab.durable import TEMP_NAME_RE
from tests import fakemodels as fm

ROOT = Path(__file__).resolve().parents[1]
SIZE = 256


class MarkerNSFW:
    """A content filter stand-in: blocks images with a pure red 4x4 patch in the top-left
    corner (RGB (255, 0, 0); the detector gets BGR), passes everything else."""

    def detect(self, bgr):
        if (bgr[0:4, 0:4] == (0, 0, 255)).all():
            return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.97, "box": [0, 0, 4, 4]}]
        return [{"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 4, 4]}]


def face_image(i: int, side: int | None = None, x: int | None = None) -> np.ndarray:
    side = side or (80 + (i * 7) % 41)  # 80..120 px
    x = x if x is not None else 20 + (i * 13) % (SIZE - side - 40)
    return fm.make_face_image((SIZE, SIZE), [(x, 40 + (i * 5) % 60, side, fm.MALE, 100 + i)], seed=i)


def blocked_image(i: int) -> np.ndarray:
    img = face_image(i)
    img[0:4, 0:4] = (255, 0, 0)
    return img


def save(rgb: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def make_target_folder(folder: Path, n: int = 12, extras: bool = False) -> dict[str, str]:
    """n face images img00.png..; with `extras` also a photo without a face, a broken file,
    one with two faces and one the content filter blocks. Returns name -> expected status."""
    expected = {}
    for i in range(n):
        ext = "jpg" if i % 4 == 3 else "png"
        save(face_image(i), folder / f"img{i:02d}.{ext}")
        expected[f"img{i:02d}.{ext}"] = "swapped"
    if extras:
        save(fm.make_face_image((SIZE, SIZE), [], seed=99), folder / "noface.png")
        expected["noface.png"] = "no-face"
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
        expected["broken.png"] = "error"
        two = fm.make_face_image((SIZE, SIZE), [(10, 10, 90, fm.MALE, 201), (140, 140, 100, fm.FEMALE, 202)], seed=98)
        save(two, folder / "two.png")
        expected["two.png"] = "swapped"  # batch swaps face 0 (default --faces 0)
        save(blocked_image(50), folder / "nsfw.png")
        expected["nsfw.png"] = "blocked"
    return expected


def manifest_rows(out: Path) -> dict[str, dict]:
    db = sqlite3.connect(str(out / MANIFEST_NAME))
    db.row_factory = sqlite3.Row
    rows = {r["input"]: dict(r) for r in db.execute("SELECT * FROM items")}
    pending = db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]
    db.close()
    assert pending == 0
    return rows


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and TEMP_NAME_RE.match(p.name)]
