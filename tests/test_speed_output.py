"""PNG outputs at a chosen zlib level (`--png-compression`, default fast), the same pixels and
metadata at every level; JPEG/WebP untouched (issue 15)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from faceswaplab.cli import main
from faceswaplab.errors import OptionsError
from faceswaplab.imageio import load_image, read_edit_mark, save_image
from faceswaplab.imageio.save import encode_image_base64
from faceswaplab.options.job import DEFAULT_PNG_COMPRESSION, OutputOptions
from tests import fakemodels as fm

# zlib's header says which level family wrote the stream (RFC 1950 FLEVEL):
# 0: levels 0-1, 1: 2-5, 2: 6, 3: 7-9.
FLEVEL = {0: 0, 1: 0, 2: 1, 5: 1, 6: 2, 9: 3}


def _idat_flevel(data: bytes) -> int:
    """FLEVEL of the first IDAT chunk's zlib stream."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            cmf, flg = data[pos + 8], data[pos + 9]
            assert cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            return flg >> 6
        pos += 12 + length
    raise AssertionError("no IDAT chunk")


def _photo() -> np.ndarray:
    return fm.make_face_image(size=(320, 240), faces=[(100, 60, 110, fm.FEMALE, 3)], seed=4)


def test_png_level_is_in_the_file_and_pixels_and_text_are_the_same(tmp_path):
    src = tmp_path / "in.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a portrait, Steps: 20")
    Image.fromarray(_photo()).save(src, pnginfo=info)
    loaded = load_image(src)
    sizes = {}
    for level in sorted(FLEVEL):
        out = save_image(tmp_path / f"l{level}.png", loaded.rgb, meta=loaded.meta, png_compression=level)
        assert _idat_flevel(out.read_bytes()) == FLEVEL[level], level
        img = Image.open(out)
        assert img.text.get("parameters") == "a portrait, Steps: 20"
        assert "FaceSwapLab" in (read_edit_mark(out) or "")
        np.testing.assert_array_equal(np.asarray(img.convert("RGB")), loaded.rgb)
        sizes[level] = out.stat().st_size
    assert sizes[0] > sizes[1] >= sizes[9]
    default = save_image(tmp_path / "default.png", loaded.rgb, meta=loaded.meta)
    assert DEFAULT_PNG_COMPRESSION == 1 and _idat_flevel(default.read_bytes()) == 0
    # base64 answers follow the same level
    import base64

    assert _idat_flevel(base64.b64decode(encode_image_base64(loaded.rgb, png_compression=9))) == 3


def test_jpeg_and_webp_ignore_the_png_level(tmp_path):
    rgb = _photo()
    for ext in ("jpg", "webp"):
        a = save_image(tmp_path / f"a.{ext}", rgb, png_compression=0).read_bytes()
        b = save_image(tmp_path / f"b.{ext}", rgb, png_compression=9).read_bytes()
        assert a == b, ext


@pytest.mark.parametrize("bad", [-1, 10, 1.5, True, "3"])
def test_bad_png_levels_are_refused(tmp_path, bad):
    with pytest.raises(OptionsError, match="png_compression must be a whole number from 0 to 9"):
        save_image(tmp_path / "x.png", _photo(), png_compression=bad)
    if bad in (-1, 10, 1.5):  # the shared option validator coerces "3" (form text) and bools
        with pytest.raises(OptionsError):
            OutputOptions(png_compression=bad)


def test_cli_png_compression_flag(tmp_path, models_dir, capfd):
    src, tgt = tmp_path / "face.png", tmp_path / "photo.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)).save(tgt)
    outs = {}
    for level in (None, 9):
        out = tmp_path / f"out-{level}.png"
        args = ["swap", "--source", src, "--target", tgt, "--output", out, "--models-dir", models_dir]
        args += ["--png-compression", level] if level is not None else []
        code = main([str(a) for a in args])
        _, err = capfd.readouterr()
        assert code == 0, err
        outs[level] = out.read_bytes()
    assert _idat_flevel(outs[None]) == 0 and _idat_flevel(outs[9]) == 3
    pix = [np.asarray(Image.open(tmp_path / f"out-{lv}.png").convert("RGB")) for lv in (None, 9)]
    np.testing.assert_array_equal(pix[0], pix[1])
    assert Path(tmp_path / "out-9.png").stat().st_size <= len(outs[None])
    code = main(["swap", "--source", str(src), "--target", str(tgt), "--output", str(tmp_path / "x.png"),
                 "--models-dir", str(models_dir), "--png-compression", "12"])  # fmt: skip
    _, err = capfd.readouterr()
    assert code != 0 and "png" in err.lower()
