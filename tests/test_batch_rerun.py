"""A re-run of `batch` over a finished folder answers from the manifest and loads no model
(issue 14: it took 5.7 s of model loading to skip 12 done images); a changed input, other
options or --redo still take the normal path."""

from __future__ import annotations

import json
import os
import time

import pytest

from faceswaplab.cli import main
from tests.batch_helpers import make_target_folder


@pytest.fixture
def no_models(monkeypatch):
    """Any model work (preparing the units, analysing an image) fails the test."""
    from faceswaplab.batch import runner
    from faceswaplab.engine import Engine

    def forbidden(*a, **k):
        raise AssertionError("a finished folder must not load or run a model")

    def arm():
        monkeypatch.setattr(runner, "prepare_job", forbidden)
        monkeypatch.setattr(Engine, "analyse", forbidden)

    return arm


def batch(args, capfd):
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def test_rerun_over_a_finished_folder_loads_no_model(tmp_path, source_path, models_dir, capfd, no_models, monkeypatch):
    targets = tmp_path / "in"
    make_target_folder(targets, n=4)
    args = ["batch", "--source", source_path, "--target-dir", targets, "--output-dir", tmp_path / "out",
            "--models-dir", models_dir, "--json", "--no-progress"]  # fmt: skip
    code, out, err = batch(args, capfd)
    assert code == 0, err
    first = json.loads(out)
    assert first["processed"] == 4

    no_models()
    t0 = time.perf_counter()
    code, out, err = batch(args, capfd)
    assert code == 0, err
    again = json.loads(out)
    assert again["skipped"] == 4 and again["processed"] == 0 and again["counts"] == first["counts"]
    assert again["options_hash"] == first["options_hash"]
    assert {i["input"] for i in again["items"]} == {i["input"] for i in first["items"]}
    assert time.perf_counter() - t0 < 2.0

    # other options or a changed input: the normal path (which needs the models)
    with pytest.raises(AssertionError, match="must not load"):
        main([str(a) for a in args + ["--debug", "--min-similarity", "0.1"]])
    img = targets / "img00.png"
    st = img.stat()
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="must not load"):
        main([str(a) for a in args + ["--debug"]])
    with pytest.raises(AssertionError, match="must not load"):
        main([str(a) for a in args + ["--debug", "--redo"]])
    capfd.readouterr()
