"""Report pictures drawn with Pillow only: a similarity histogram and a contact sheet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..imageio import save_image

KEPT_COLOUR = (46, 160, 67)
REJECTED_COLOUR = (207, 34, 46)
NEUTRAL_COLOUR = (110, 110, 110)
BG = (255, 255, 255)
INK = (30, 30, 30)
GRID = (225, 225, 225)
LABEL_LINES = 4


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont) -> tuple[int, int]:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return x1 - x0, y1 - y0


def histogram_counts(values: Sequence[float], bins: int = 20) -> np.ndarray:
    v = np.clip(np.asarray([x for x in values if x is not None], np.float64), 0.0, 1.0)
    counts, _ = np.histogram(v, bins=bins, range=(0.0, 1.0))
    return counts


def draw_histogram(
    path: Path,
    kept: Sequence[float],
    rejected: Sequence[float],
    *,
    threshold: float | None = None,
    bins: int = 20,
    size: tuple[int, int] = (760, 420),
    title: str = "similarity of the swapped face to the identity",
) -> Path:
    """Stacked histogram of similarities over [0, 1]: kept (green) and rejected (red), with
    the threshold as a dashed line."""
    k = histogram_counts(kept, bins)
    r = histogram_counts(rejected, bins)
    total = k + r
    w, h = size
    left, right, top, bottom = 56, 20, 44, 52
    img = Image.new("RGB", size, BG)
    d = ImageDraw.Draw(img)
    font = _font()
    pw, ph = w - left - right, h - top - bottom
    ymax = max(int(total.max()) if total.size else 0, 1)
    # a round top for the y axis, with up to 5 grid lines
    step = max(1, int(np.ceil(ymax / 5)))
    ymax = step * int(np.ceil(ymax / step))
    for t in range(0, ymax + 1, step):
        y = top + ph - round(t / ymax * ph)
        d.line([(left, y), (left + pw, y)], fill=GRID)
        label = str(t)
        tw, th = _text_size(d, label, font)
        d.text((left - 6 - tw, y - th // 2 - 1), label, fill=INK, font=font)
    bw = pw / bins
    for i in range(bins):
        x0 = left + round(i * bw) + 1
        x1 = left + round((i + 1) * bw) - 1
        y_base = top + ph
        for n, colour in ((int(k[i]), KEPT_COLOUR), (int(r[i]), REJECTED_COLOUR)):
            if n <= 0:
                continue
            hh = round(n / ymax * ph)
            d.rectangle([x0, y_base - hh, x1, y_base - 1], fill=colour)
            y_base -= hh
    d.line([(left, top + ph), (left + pw, top + ph)], fill=INK)
    d.line([(left, top), (left, top + ph)], fill=INK)
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + round(t * pw)
        d.line([(x, top + ph), (x, top + ph + 4)], fill=INK)
        label = f"{t:g}"
        tw, _ = _text_size(d, label, font)
        d.text((x - tw // 2, top + ph + 7), label, fill=INK, font=font)
    if threshold is not None and threshold > 0:
        x = left + round(min(max(threshold, 0.0), 1.0) * pw)
        for y in range(top, top + ph, 8):
            d.line([(x, y), (x, min(y + 4, top + ph))], fill=INK, width=2)
        d.text((x + 4, top + 2), f"min {threshold:.2f}", fill=INK, font=font)
    d.text((left, 14), title, fill=INK, font=font)
    legend = [(f"kept ({int(k.sum())})", KEPT_COLOUR), (f"rejected ({int(r.sum())})", REJECTED_COLOUR)]
    lx = left + pw
    for text, colour in reversed(legend):
        tw, _ = _text_size(d, text, font)
        lx -= tw + 22
        d.rectangle([lx, 15, lx + 10, 25], fill=colour)
        d.text((lx + 14, 14), text, fill=INK, font=font)
    d.text((left + pw // 2 - 30, h - 20), "similarity", fill=INK, font=font)
    save_image(path, np.asarray(img), mark_edited=False)
    return path


@dataclass
class Tile:
    thumb: Path | None  # None: a placeholder (blocked images are never shown)
    lines: list[str]
    colour: tuple[int, int, int]


def make_thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    img = Image.fromarray(rgb)
    img.thumbnail((size, size), Image.Resampling.LANCZOS if hasattr(Image, "Resampling") else Image.LANCZOS)
    return np.asarray(img.convert("RGB"))


def draw_contact_sheet(
    path: Path,
    sections: Sequence[tuple[str, Sequence[Tile], int]],
    *,
    tile: int = 160,
    columns: int = 8,
) -> Path:
    """A grid of labelled thumbnails per section (title, tiles, how many more were left out)."""
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = _text_size(probe, "Ag", font)[1] + 3
    label_h = LABEL_LINES * line_h + 6
    pad, header_h = 8, 26
    cell_w, cell_h = tile + pad, tile + label_h + pad
    width = pad + columns * cell_w
    height = pad
    for _title, tiles, _more in sections:
        rows = max(1, (len(tiles) + columns - 1) // columns)
        height += header_h + rows * cell_h + pad
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    y = pad
    for title, tiles, more in sections:
        head = title + (f"  (+{more} more not shown)" if more else "")
        d.text((pad, y + 6), head, fill=INK, font=font)
        y += header_h
        if not tiles:
            d.text((pad, y + 6), "(none)", fill=NEUTRAL_COLOUR, font=font)
        for i, t in enumerate(tiles):
            cx = pad + (i % columns) * cell_w
            cy = y + (i // columns) * cell_h
            d.rectangle([cx - 2, cy - 2, cx + tile + 1, cy + tile + 1], outline=t.colour, width=2)
            thumb = None
            if t.thumb is not None:
                try:
                    with Image.open(t.thumb) as im:
                        thumb = im.convert("RGB")
                        thumb.thumbnail((tile, tile))
                except Exception:
                    thumb = None
            if thumb is not None:
                img.paste(thumb, (cx + (tile - thumb.width) // 2, cy + (tile - thumb.height) // 2))
            else:
                d.rectangle([cx, cy, cx + tile - 1, cy + tile - 1], fill=(200, 200, 200))
                msg = "not shown"
                tw, th = _text_size(d, msg, font)
                d.text((cx + (tile - tw) // 2, cy + (tile - th) // 2), msg, fill=INK, font=font)
            for j, line in enumerate(_wrap(d, t.lines, font, tile, LABEL_LINES)):
                d.text((cx, cy + tile + 4 + j * line_h), line, fill=INK, font=font)
        rows = max(1, (len(tiles) + columns - 1) // columns)
        y += rows * cell_h + pad
    save_image(path, np.asarray(img), mark_edited=False)
    return path


def _wrap(d: ImageDraw.ImageDraw, lines: Sequence[str], font: ImageFont.ImageFont, width: int, limit: int) -> list[str]:
    """Lines word-wrapped to `width` pixels, at most `limit` lines (the last one cut with '...')."""
    out: list[str] = []
    for text in lines:
        if not text:
            continue
        cur = ""
        for word in text.split(" "):
            trial = f"{cur} {word}" if cur else word
            if cur and _text_size(d, trial, font)[0] > width:
                out.append(cur)
                cur = word
            else:
                cur = trial
        if cur:
            out.append(cur)
    if len(out) > limit:
        out = out[:limit]
        out[-1] = out[-1] + " ..."
    return [_fit(d, line, font, width) for line in out]


def _fit(d: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> str:
    if _text_size(d, text, font)[0] <= width:
        return text
    while text and _text_size(d, text + "...", font)[0] > width:
        text = text[:-1]
    return text + "..."
