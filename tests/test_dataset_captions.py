"""Dataset captions: the template with {gender}, a host captioner after the trigger word (the
Captioner protocol a web-ui registers), loaded once and freed after the job, a failing caption
falling back to the template with a per-image note, and the clear error outside the web-ui."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceswaplab.batch import DatasetOptions, run_dataset
from faceswaplab.cli import main
from faceswaplab.errors import OptionsError
from tests.batch_helpers import face_image, save


class RecordingCaptioner:
    """A captioner that describes the image by its mean brightness (so each image's caption
    comes from its own pixels) and records its model's lifetime."""

    name = "blip"

    def __init__(self, fail_on: int | None = None) -> None:
        self.events: list[str] = []
        self.fail_on = fail_on

    def begin(self) -> None:
        self.events.append("begin")

    def caption(self, rgb: np.ndarray) -> str:
        self.events.append("caption")
        if self.fail_on is not None and self.events.count("caption") == self.fail_on:
            raise RuntimeError("CUDA out of memory")
        return f"a photo,  brightness {int(rgb.mean())}\n"

    def end(self) -> None:
        self.events.append("end")


def _photos(tmp_path, n=3):
    folder = tmp_path / "photos"
    for i in range(n):
        save(face_image(i), folder / f"p{i}.png")
    return folder


def test_trigger_then_host_caption_loaded_once_and_freed(tmp_path, eng, unit):
    cap = RecordingCaptioner()
    eng.captioners["blip"] = cap
    opts = DatasetOptions(trigger="sks", caption="trigger+blip", caption_template="photo of {trigger}")
    run_dataset(_photos(tmp_path), tmp_path / "ds", unit, opts, engine=eng)
    texts = {p.stem: p.read_text() for p in (tmp_path / "ds" / "10_sks").glob("*.txt")}
    assert len(texts) == 3
    for name, text in texts.items():
        kept = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(tmp_path / "ds" / "10_sks" / f"{name}.png"))
        assert text == f"photo of sks, a photo, brightness {int(kept[..., :3].mean())}\n", "trigger first, one line"
    assert cap.events[0] == "begin" and cap.events[-1] == "end" and cap.events.count("begin") == 1
    assert cap.events.count("caption") == 3


def test_host_caption_alone_and_failure_falls_back_with_a_note(tmp_path, eng, unit):
    cap = RecordingCaptioner(fail_on=2)
    eng.captioners["blip"] = cap
    run_dataset(_photos(tmp_path), tmp_path / "ds", unit, DatasetOptions(trigger="sks", caption="blip"), engine=eng)
    texts = sorted(p.read_text() for p in (tmp_path / "ds" / "10_sks").glob("*.txt"))
    assert sum(t == "sks, a photo\n" for t in texts) == 1, "the failed one has the template"
    assert sum(t.startswith("a photo, brightness") for t in texts) == 2, "blip alone: no trigger word"
    report = json.loads((tmp_path / "ds" / "report" / "summary.json").read_text())
    notes = [i["caption_note"] for i in report["items"] if i["caption_note"]]
    assert len(notes) == 1 and "blip caption failed (RuntimeError: CUDA out of memory)" in notes[0]
    assert report["caption"] == "blip" and cap.events[-1] == "end"


def test_gender_in_the_template(tmp_path, eng, unit):
    opts = DatasetOptions(trigger="sks", caption_template="photo of {trigger}, {gender}")
    run_dataset(_photos(tmp_path, 2), tmp_path / "ds", unit, opts, engine=eng)
    texts = {p.read_text() for p in (tmp_path / "ds" / "10_sks").glob("*.txt")}
    assert texts and texts <= {"photo of sks, woman\n", "photo of sks, man\n"}, texts


def test_outside_the_webui(tmp_path, eng, unit, models_dir, source_path, capsys):
    with pytest.raises(OptionsError, match="needs the web-ui's DeepBooru tagger"):
        run_dataset(_photos(tmp_path), tmp_path / "ds", unit, DatasetOptions(trigger="sks", caption="trigger+deepbooru"), engine=eng)
    assert not (tmp_path / "ds").exists(), "refused before anything is written"
    code = main(["dataset", "--target-dir", str(tmp_path / "photos"), "--output-dir", str(tmp_path / "ds2"),
                 "--source", str(source_path), "--trigger", "sks", "--caption", "blip", "--models-dir", str(models_dir)])  # fmt: skip
    assert code == 2 and "needs the web-ui's BLIP interrogator" in capsys.readouterr().err
    with pytest.raises(OptionsError, match="caption must be one of|must contain"):
        DatasetOptions(trigger="sks", caption="bl1p")
