"""Tests for faceswaplab.imageio: decoding, normalisation, refusal of bad files, metadata and
atomic saving. Every input image is generated here, in tmp_path."""

from __future__ import annotations

import base64
import errno
import io
import os
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps, PngImagePlugin, features

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run from a bare checkout without an installed package
    sys.path.insert(0, str(_ROOT))

from faceswaplab import TOOL_NAME, __version__  # noqa: E402
from faceswaplab import imageio as fio  # noqa: E402
from faceswaplab.errors import FaceSwapLabError, ImageError, OptionsError  # noqa: E402

MARK_PNG = f"edited by {TOOL_NAME} {__version__}"
MARK_EXIF = f"{TOOL_NAME} {__version__}"
TAG_ARTIST = 0x013B
TAG_SOFTWARE = 0x0131
TAG_ORIENTATION = 0x0112


def _rand_rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# Made once: littlecms stamps the creation time into the profile header, so two calls a
# second apart give different bytes.
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose IHDR claims width x height (CRC correct)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = buf.getvalue()
    assert data[12:16] == b"IHDR"
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    return data[:8] + _png_chunk(b"IHDR", bytes(ihdr)) + data[33:]


def _exif_of(path: Path) -> Image.Exif:
    with Image.open(path) as im:
        return im.getexif()


@pytest.fixture(autouse=True)
def _pil_globals_untouched():
    """imageio must never change Pillow's process-wide settings."""
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    yield
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --------------------------------------------------------------------------- decoding


def test_non_ascii_path_round_trip(tmp_path):
    rgb = _rand_rgb()
    path = tmp_path / "фото é 写真" / "образ 😀.png"
    out = fio.save_image(path, rgb)  # parent folder is created
    assert out == path and path.is_file()
    loaded = fio.load_image(path)
    assert np.array_equal(loaded.rgb, rgb)
    assert loaded.alpha is None
    assert loaded.source == str(path)
    assert loaded.meta.format == "PNG"
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.flags.c_contiguous and loaded.rgb.flags.writeable
    # str path works too
    assert np.array_equal(fio.load_image(str(path)).rgb, rgb)


def test_rgba_alpha_kept_through_png(tmp_path):
    rgb = _rand_rgb(seed=1)
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, ::2] = 255
    alpha[3, 3] = 77
    path = fio.save_image(tmp_path / "a.png", rgb, alpha=alpha)
    with Image.open(path) as im:
        assert im.mode == "RGBA"
    loaded = fio.load_image(path)
    assert np.array_equal(loaded.rgb, rgb)
    assert loaded.alpha is not None and np.array_equal(loaded.alpha, alpha)


def test_grayscale_gives_three_identical_channels(tmp_path):
    gray = np.arange(0, 240, dtype=np.uint8).reshape(12, 20)
    path = tmp_path / "g.png"
    Image.fromarray(gray).save(path)
    loaded = fio.load_image(path)
    assert loaded.rgb.shape == (12, 20, 3)
    for c in range(3):
        assert np.array_equal(loaded.rgb[..., c], gray)


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16).repeat(3, axis=0)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as im:
        assert im.mode in ("I;16", "I")  # "I" on Pillow < 10
    row = fio.load_image(path).rgb[0, :, 0].astype(int)
    assert row[0] == 0
    assert abs(row[1] - 1) <= 1
    assert abs(row[2] - 128) <= 1
    assert row[3] == 255


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (8, 6), 1)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * (254 * 3))
    im.putpixel((2, 3), 0)
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    loaded = fio.load_image(path)
    assert loaded.alpha is not None
    assert loaded.alpha[3, 2] == 0
    assert loaded.alpha.sum() == 255 * (8 * 6 - 1)
    assert tuple(loaded.rgb[0, 0]) == (0, 0, 255)


def test_cmyk_jpeg_decoded_to_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)  # pure red in CMYK
    with Image.open(path) as im:
        assert im.mode == "CMYK"
    loaded = fio.load_image(path)
    assert loaded.rgb.shape == (16, 16, 3)
    assert np.abs(loaded.rgb.astype(int) - [255, 0, 0]).max() <= 12


def test_exif_orientation_6_rotates_and_is_reset(tmp_path):
    w, h = 40, 20
    img = np.full((h, w, 3), 255, np.uint8)
    img[:6, :6] = (255, 0, 0)  # marker in the stored top-left corner
    exif = Image.Exif()
    exif[TAG_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    exif[TAG_ARTIST] = "tester"
    path = tmp_path / "rot.jpg"
    Image.fromarray(img).save(path, quality=95, exif=exif.tobytes())

    loaded = fio.load_image(path)
    assert loaded.rgb.shape == (w, h, 3)  # width and height swapped
    # after a clockwise quarter turn the top-left corner is the top-right corner
    assert np.abs(loaded.rgb[1, -2].astype(int) - [255, 0, 0]).max() < 40
    assert np.abs(loaded.rgb[1, 1].astype(int) - [255, 255, 255]).max() < 40
    assert np.abs(loaded.rgb[-2, -2].astype(int) - [255, 255, 255]).max() < 40
    # orientation reset to 1 so nobody rotates it again; other tags kept
    meta_exif = Image.Exif()
    meta_exif.load(loaded.meta.exif[6:])
    assert loaded.meta.exif.startswith(b"Exif\x00\x00")
    assert meta_exif[TAG_ORIENTATION] == 1
    assert meta_exif[TAG_ARTIST] == "tester"
    out = fio.save_image(tmp_path / "out.jpg", loaded.rgb, meta=loaded.meta)
    assert _exif_of(out).get(TAG_ORIENTATION) == 1
    assert fio.load_image(out).rgb.shape == (w, h, 3)


def test_tiff_orientation_applied_once(tmp_path):
    # Pillow >= 10 rotates TIFFs itself on load; Pillow 9.5 does not. Either way: upright, once.
    img = np.full((20, 40, 3), 255, np.uint8)
    img[:6, :6] = (255, 0, 0)
    path = tmp_path / "rot.tif"
    Image.fromarray(img).save(path, tiffinfo={TAG_ORIENTATION: 6})
    loaded = fio.load_image(path)
    assert loaded.rgb.shape == (40, 20, 3)
    assert tuple(loaded.rgb[1, -2]) == (255, 0, 0)


def test_from_pil_applies_orientation_without_touching_callers_image(tmp_path):
    exif = Image.Exif()
    exif[TAG_ORIENTATION] = 8
    path = tmp_path / "rot8.png"
    Image.fromarray(_rand_rgb(10, 30)).save(path, exif=exif.tobytes())
    with Image.open(path) as im:
        loaded = fio.from_pil(im, what="target image")
        assert loaded.rgb.shape == (30, 10, 3)
        assert loaded.source == str(path)
        assert im.size == (30, 10) and im.getexif()[TAG_ORIENTATION] == 8  # unchanged


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow_exif_transpose(orientation):
    base = Image.fromarray(_rand_rgb(5, 7, seed=orientation))
    exif = Image.Exif()
    exif[TAG_ORIENTATION] = orientation
    buf = io.BytesIO()
    base.save(buf, "PNG", exif=exif.tobytes())
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        expected = np.array(ImageOps.exif_transpose(im))
    assert np.array_equal(fio.load_image(buf.getvalue()).rgb, expected)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_gives_first_frame_and_warning(tmp_path, fmt):
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("no WebP support")
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / f"anim.{fmt.lower()}"
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    loaded = fio.load_image(path)
    assert loaded.rgb.shape == (12, 16, 3)
    assert np.abs(loaded.rgb.astype(int) - [255, 0, 0]).max() <= 8
    assert len(loaded.warnings) == 1 and "frame" in loaded.warnings[0]
    assert "anim." in loaded.warnings[0]


def test_still_image_has_no_warnings(tmp_path):
    path = fio.save_image(tmp_path / "still.png", _rand_rgb())
    assert fio.load_image(path).warnings == []


# --------------------------------------------------------------------------- refusals


def _truncated(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"cut.{fmt.lower().replace('jpeg', 'jpg')}"
    buf = io.BytesIO()
    Image.fromarray(_rand_rgb(64, 64, seed=5)).save(buf, fmt)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def _make_bad(tmp_path: Path, kind: str) -> Path:
    if kind == "truncated_png":
        return _truncated(tmp_path, "PNG")
    if kind == "truncated_jpeg":
        return _truncated(tmp_path, "JPEG")
    if kind == "random_bytes":
        path = tmp_path / "noise.jpg"
        path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        return path
    if kind == "empty":
        path = tmp_path / "empty.png"
        path.write_bytes(b"")
        return path
    if kind == "missing":
        return tmp_path / "not-there.png"
    if kind == "directory":
        path = tmp_path / "folder.png"
        path.mkdir()
        return path
    if kind == "text_as_png":
        path = tmp_path / "notes.png"
        path.write_text("these are my notes, not a picture\n" * 20, encoding="utf-8")
        return path
    if kind == "bomb":
        path = tmp_path / "bomb.png"
        path.write_bytes(_bomb_png(40000, 40000))
        return path
    raise AssertionError(kind)


BAD_KINDS = ["truncated_png", "truncated_jpeg", "random_bytes", "empty", "missing", "directory", "text_as_png", "bomb"]
EXPECTED_WORDS = {
    "truncated_png": "truncated",
    "truncated_jpeg": "truncated",
    "random_bytes": "not an image",
    "empty": "empty",
    "missing": "does not exist",
    "directory": "folder",
    "text_as_png": "not an image",
    "bomb": "too large",
}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_inputs_raise_image_error_naming_the_file(tmp_path, kind):
    path = _make_bad(tmp_path, kind)
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        fio.load_image(path, what="source image")
    elapsed = time.perf_counter() - start
    msg = str(info.value)
    assert path.name in msg
    assert msg.startswith("source image '")
    assert EXPECTED_WORDS[kind] in msg
    assert info.value.exit_code == 2
    if kind == "bomb":
        assert elapsed < 1.0  # refused from the header: a decode would take seconds and 1.6 GB
        assert "1600 MP" in msg and "100 MP" in msg
    # the same bytes through the in-memory path are refused as well (where there are bytes)
    if path.is_file() and path.stat().st_size:
        with pytest.raises(ImageError):
            fio.load_image(path.read_bytes())


def test_bomb_below_pillow_limit_refused_by_our_header_check(tmp_path):
    # 144 MP: above our 100 MP default, between Pillow's warning and error thresholds
    path = tmp_path / "big.png"
    path.write_bytes(_bomb_png(12000, 12000))
    start = time.perf_counter()
    with pytest.raises(ImageError, match=r"12000x12000 = 144 MP, above the 100 MP limit") as info:
        fio.load_image(path)
    assert time.perf_counter() - start < 1.0
    assert "big.png" in str(info.value)


def test_bomb_refused_even_if_pillow_limit_disabled(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # what some extensions do
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(40000, 40000))
    start = time.perf_counter()
    with pytest.raises(ImageError, match=r"40000x40000 = 1600 MP, above the 100 MP limit"):
        fio.load_image(path)
    assert time.perf_counter() - start < 1.0


def test_max_pixels_argument(tmp_path):
    path = fio.save_image(tmp_path / "small.png", _rand_rgb(100, 100))
    with pytest.raises(ImageError, match=r"100x100 = 0.01 MP, above the 0.005 MP limit"):
        fio.load_image(path, max_pixels=5000)
    assert fio.load_image(path, max_pixels=10000).rgb.shape == (100, 100, 3)
    with pytest.raises(ImageError, match="too large"):
        fio.load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=5000)


def test_zero_size_refused():
    with pytest.raises(ImageError, match="zero size"):
        fio.load_image(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ImageError, match="zero size"):
        fio.load_image(Image.new("RGB", (0, 4)))


def test_unsupported_source_type():
    with pytest.raises(ImageError, match="cannot read the target image from a int"):
        fio.load_image(42, what="target image")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- other inputs


def test_pil_input_and_loaded_passthrough():
    pil = Image.fromarray(_rand_rgb(seed=7))
    pil.info["parameters"] = "a photo, Steps: 20"
    loaded = fio.load_image(pil)
    assert np.array_equal(loaded.rgb, np.array(pil))
    assert loaded.source == "<PIL image>"
    assert loaded.meta.text == {"parameters": "a photo, Steps: 20"}
    assert fio.load_image(loaded) is loaded
    assert fio.from_pil(pil).rgb.tobytes() == loaded.rgb.tobytes()


def test_numpy_inputs_of_each_dtype():
    gray8 = np.array([[0, 128, 255]], np.uint8)
    r = fio.load_image(gray8)
    assert r.rgb.shape == (1, 3, 3) and r.alpha is None and list(r.rgb[0, :, 1]) == [0, 128, 255]
    assert r.source == "<numpy array>"

    rgb8 = _rand_rgb(4, 5)
    r = fio.load_image(rgb8)
    assert np.array_equal(r.rgb, rgb8)
    r.rgb[0, 0] = (1, 2, 3)
    assert not np.array_equal(r.rgb, rgb8)  # the result never aliases the caller's array

    rgba8 = np.dstack([rgb8, np.full((4, 5), 9, np.uint8)])
    r = fio.load_image(rgba8)
    assert np.array_equal(r.rgb, rgb8) and r.alpha is not None and (r.alpha == 9).all()
    assert r.rgb.flags.c_contiguous

    u16 = np.array([[0, 32768, 65535]], np.uint16)
    assert [int(v) for v in fio.load_image(u16).rgb[0, :, 0]] == [0, 128, 255]

    for dt in (np.float16, np.float32, np.float64):
        f = np.array([[0.0, 0.5, 1.0]], dt)
        assert [int(v) for v in fio.load_image(f).rgb[0, :, 0]] == [0, 128, 255], dt

    b = np.array([[False, True]])
    assert [int(v) for v in fio.load_image(b).rgb[0, :, 2]] == [0, 255]

    i64 = np.array([[0, 200]], np.int64)
    assert [int(v) for v in fio.load_image(i64).rgb[0, :, 0]] == [0, 200]

    one = np.full((2, 2, 1), 7, np.uint8)
    assert (fio.load_image(one).rgb == 7).all()

    la = np.dstack([np.full((2, 2), 50, np.uint8), np.full((2, 2), 60, np.uint8)])
    r = fio.load_image(la)
    assert (r.rgb == 50).all() and (r.alpha == 60).all()

    strided = _rand_rgb(8, 8)[::2, ::-1]
    assert np.array_equal(fio.load_image(strided).rgb, strided)


@pytest.mark.parametrize(
    "arr, words",
    [
        (np.full((2, 2, 3), 200.0, np.float32), "in 0..1"),
        (np.array([[np.nan, 0.5]]), "NaN"),
        (np.array([[-5, 300]], np.int32), "0..255"),
        (np.zeros((2, 2, 5), np.uint8), "shape"),
        (np.zeros((2,), np.uint8), "shape"),
        (np.array([["a"]]), "dtype"),
    ],
)
def test_bad_numpy_inputs(arr, words):
    with pytest.raises(ImageError, match=words):
        fio.load_image(arr)


def test_base64_round_trip_and_errors():
    rgb = _rand_rgb(seed=11)
    alpha = np.full(rgb.shape[:2], 128, np.uint8)
    b64 = fio.encode_image_base64(rgb, alpha)
    assert not b64.startswith("data:")
    r = fio.decode_base64_image(b64)
    assert np.array_equal(r.rgb, rgb) and np.array_equal(r.alpha, alpha)
    assert r.meta.text.get("faceswaplab") == MARK_PNG

    r2 = fio.decode_base64_image("data:image/png;base64," + b64)
    assert np.array_equal(r2.rgb, rgb)
    # line breaks (MIME style) and missing padding are tolerated
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)).rstrip("=")
    assert np.array_equal(fio.decode_base64_image(wrapped).rgb, rgb)

    jpg = fio.encode_image_base64(rgb, fmt="jpg")
    assert base64.b64decode(jpg)[:2] == b"\xff\xd8"

    with pytest.raises(ImageError, match="not valid base64"):
        fio.decode_base64_image("this is not base64!!", what="target image")
    with pytest.raises(ImageError, match="not an image"):
        fio.decode_base64_image(base64.b64encode(b"hello world, no image").decode())
    with pytest.raises(ImageError, match="empty"):
        fio.decode_base64_image("data:image/png;base64,")
    with pytest.raises(ImageError):
        fio.encode_image_base64(rgb, fmt="gif")


# --------------------------------------------------------------------------- metadata and saving


@pytest.fixture()
def rich_png(tmp_path) -> Path:
    """A PNG with a web-ui `parameters` chunk, EXIF (Artist) and an ICC profile."""
    rgb = _rand_rgb(seed=21)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "portrait of a cat, Steps: 20, Sampler: Euler a")
    info.add_itxt("comment-ü", "ünïcode text")  # Latin-1 keyword, non-Latin-1-safe text
    exif = Image.Exif()
    exif[TAG_ARTIST] = "Ada"
    path = tmp_path / "rich.png"
    Image.fromarray(rgb).save(path, pnginfo=info, exif=exif.tobytes(), icc_profile=SRGB_ICC)
    return path


def test_metadata_read(rich_png):
    meta = fio.load_image(rich_png).meta
    assert meta.text["parameters"].startswith("portrait of a cat")
    assert meta.text["comment-ü"] == "ünïcode text"
    assert meta.icc_profile == SRGB_ICC
    exif = Image.Exif()
    exif.load(meta.exif[6:])
    assert exif[TAG_ARTIST] == "Ada"


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tiff"])
def test_metadata_carried_and_edit_mark(tmp_path, rich_png, ext):
    loaded = fio.load_image(rich_png)
    out = fio.save_image(tmp_path / f"out{ext}", loaded.rgb, meta=loaded.meta)
    with Image.open(out) as im:
        im.load()
        if ext == ".png":
            assert im.text["parameters"] == loaded.meta.text["parameters"]
            assert im.text["comment-ü"] == "ünïcode text"
            assert im.text["faceswaplab"] == MARK_PNG
        assert im.info.get("icc_profile") == SRGB_ICC
        exif = im.getexif()
        assert exif[TAG_ARTIST] == "Ada"
        assert exif[TAG_SOFTWARE] == MARK_EXIF
    expected = MARK_PNG if ext == ".png" else MARK_EXIF
    assert fio.read_edit_mark(out) == expected
    back = fio.load_image(out)
    assert back.rgb.shape == loaded.rgb.shape
    if ext in (".png", ".tiff"):
        assert np.array_equal(back.rgb, loaded.rgb)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif"])
def test_mark_edited_false_and_fresh_images(tmp_path, ext):
    rgb = _rand_rgb()
    plain = fio.save_image(tmp_path / f"plain{ext}", rgb, mark_edited=False)
    assert fio.read_edit_mark(plain) is None
    marked = fio.save_image(tmp_path / f"marked{ext}", rgb)
    if ext == ".bmp":  # no metadata at all in BMP
        assert fio.read_edit_mark(marked) is None
    else:
        assert fio.read_edit_mark(marked) in (MARK_PNG, MARK_EXIF)


def test_foreign_software_tag_is_not_a_mark(tmp_path):
    exif = Image.Exif()
    exif[TAG_SOFTWARE] = "Adobe Photoshop"
    path = tmp_path / "ps.jpg"
    Image.fromarray(_rand_rgb()).save(path, exif=exif.tobytes())
    assert fio.read_edit_mark(path) is None
    # re-saving by us replaces Software with our mark
    loaded = fio.load_image(path)
    out = fio.save_image(tmp_path / "ours.jpg", loaded.rgb, meta=loaded.meta)
    assert fio.read_edit_mark(out) == MARK_EXIF


@pytest.mark.parametrize(
    "ext, keeps_alpha", [(".png", True), (".webp", True), (".tiff", True), (".jpg", False), (".bmp", False)]
)
def test_alpha_per_format(tmp_path, ext, keeps_alpha):
    rgb = _rand_rgb()
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, 16:] = 255
    out = fio.save_image(tmp_path / f"a{ext}", rgb, alpha=alpha)
    back = fio.load_image(out)
    if keeps_alpha:
        assert back.alpha is not None
        assert np.abs(back.alpha.astype(int) - alpha).max() <= 2
    else:
        assert back.alpha is None


def test_unknown_extension_lists_supported(tmp_path):
    with pytest.raises(ImageError) as info:
        fio.save_image(tmp_path / "out.gif", _rand_rgb())
    msg = str(info.value)
    for ext in (".png", ".jpg", ".webp", ".bmp", ".tif"):
        assert ext in msg
    with pytest.raises(ImageError):
        fio.save_image(tmp_path / "no_extension", _rand_rgb())
    assert list(tmp_path.iterdir()) == []


def test_bad_quality(tmp_path):
    with pytest.raises(OptionsError):
        fio.save_image(tmp_path / "q.jpg", _rand_rgb(), quality=0)


def test_jpeg_quality_matters(tmp_path):
    rgb = _rand_rgb(64, 64)
    lo = fio.save_image(tmp_path / "lo.jpg", rgb, quality=20)
    hi = fio.save_image(tmp_path / "hi.jpg", rgb, quality=95)
    assert lo.stat().st_size < hi.stat().st_size


def _failing_encoder(exc: BaseException):
    def save(im, fp, filename):
        fp.write(b"\x89PNG\r\n\x1a\n half of an image")  # some bytes reach the file first
        raise exc

    return save


@pytest.mark.parametrize(
    "exc, expected",
    [
        (OSError(errno.ENOSPC, "No space left on device"), FaceSwapLabError),
        (RuntimeError("encoder crashed"), RuntimeError),
    ],
)
def test_atomic_save_keeps_previous_file(tmp_path, monkeypatch, exc, expected):
    path = tmp_path / "out.png"
    fio.save_image(path, _rand_rgb(seed=1))
    before = path.read_bytes()
    monkeypatch.setitem(Image.SAVE, "PNG", _failing_encoder(exc))
    with pytest.raises(expected):
        fio.save_image(path, _rand_rgb(seed=2))
    assert path.read_bytes() == before  # intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp file left
    # a new file is not created either
    with pytest.raises(expected):
        fio.save_image(tmp_path / "new.png", _rand_rgb(seed=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_save_replaces_existing_and_keeps_mode(tmp_path):
    path = tmp_path / "out.jpg"
    fio.save_image(path, _rand_rgb(seed=1))
    os.chmod(path, 0o640)
    fio.save_image(path, np.zeros((10, 10, 3), np.uint8))
    assert fio.load_image(path).rgb.shape == (10, 10, 3)
    if os.name == "posix":
        assert (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]


def test_save_into_a_file_as_folder_fails_cleanly(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(FaceSwapLabError, match="could not write"):
        fio.save_image(tmp_path / "blocker" / "out.png", _rand_rgb())


def test_to_pil_and_bad_alpha():
    rgb = _rand_rgb()
    assert fio.to_pil(rgb).mode == "RGB"
    im = fio.to_pil(rgb, np.full(rgb.shape[:2], 5, np.uint8))
    assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 5
    with pytest.raises(ImageError, match="alpha"):
        fio.to_pil(rgb, np.zeros((3, 3), np.uint8))


def test_is_image_file():
    assert fio.is_image_file("a/b/photo.JPG")
    assert fio.is_image_file(Path("x.webp"))
    assert fio.is_image_file("scan.tiff")
    assert not fio.is_image_file("notes.txt")
    assert not fio.is_image_file("._photo.jpg")  # macOS resource fork
    assert not fio.is_image_file(".out.png.1a2b3c4d.tmp")  # our temp files
    assert ".png" in fio.IMAGE_EXTENSIONS and ".jpeg" in fio.IMAGE_EXTENSIONS
    assert fio.DEFAULT_MAX_PIXELS == 100_000_000
