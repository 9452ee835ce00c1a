"""A batch job killed with SIGKILL at several points (1 and 2 workers), then resumed, ends
with every input processed exactly once, the same outputs as an uninterrupted run, and no
partial or temporary files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faceswaplab.batch import LOCK_NAME, MANIFEST_NAME, run_batch
from faceswaplab.engine import Engine
from faceswaplab.imageio import load_image
from faceswaplab.options import EngineOptions, UnitOptions
from tests import fakemodels as fm
from tests.batch_helpers import ROOT, make_target_folder, manifest_rows, save, temp_files

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

N_IMAGES = 12


def _count_records(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0  # the schema is not there yet


def _cmd(target: Path, out: Path, source: Path, models: Path, workers: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "faceswaplab", "batch", "--target-dir", str(target), "--output-dir", str(out),
        "--source", str(source), "--models-dir", str(models), "--workers", str(workers), "--no-progress", *extra,
    ]  # fmt: skip


def _run_and_kill(cmd: list[str], db: Path, after_records: int, timeout: float = 60.0) -> int:
    """Start the job, SIGKILL it once the manifest holds `after_records` records (or as soon
    as it exists when 0). Returns how many records there were when it died."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            n = _count_records(db)
            if (after_records == 0 and db.exists()) or (after_records and n >= after_records):
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    assert proc.returncode in (0, -signal.SIGKILL), err
    return _count_records(db)


@pytest.fixture(scope="module")
def job_inputs(tmp_path_factory, models_dir):
    d = tmp_path_factory.mktemp("kill")
    target = d / "in"
    expected = make_target_folder(target, N_IMAGES)
    save(fm.make_face_image((256, 256), [], seed=77), target / "zz-noface.png")
    expected["zz-noface.png"] = "no-face"
    source = save(fm.make_face_image((256, 256), [(60, 60, 120, fm.FEMALE, 7)], seed=1), d / "source.png")
    # the reference: one uninterrupted run in this process (same models, same options)
    ref_out = d / "reference"
    summary = run_batch(target, ref_out, [UnitOptions(source_images=(str(source),))],
                        engine=Engine(EngineOptions(models_dir=str(models_dir))))  # fmt: skip
    assert summary.counts == {"swapped": N_IMAGES, "no-face": 1}
    return target, source, ref_out, expected


@pytest.mark.parametrize("workers,kill_points", [(1, (0, 5)), (2, (2, 8))])
def test_killed_runs_resume_to_exactly_once(tmp_path, models_dir, job_inputs, workers, kill_points):
    target, source, ref_out, expected = job_inputs
    out = tmp_path / "out"
    db = out / MANIFEST_NAME
    cmd = _cmd(target, out, source, models_dir, workers)
    died_at = [_run_and_kill(cmd, db, k) for k in kill_points]
    print("records when killed:", died_at)
    assert died_at == sorted(died_at)  # records only ever accumulate
    assert died_at[-1] < len(expected)  # the kills did land before the end

    # resume to the end
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(cmd + ["--json"], cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["total"] == len(expected)
    assert summary["skipped"] == died_at[-1] and summary["processed"] == len(expected) - died_at[-1]

    # every input exactly once: one record each, with the uninterrupted run's outcome
    rows = manifest_rows(out)  # also asserts no pending rows are left
    ref_rows = manifest_rows(ref_out)
    assert set(rows) == set(expected)
    for name, status in expected.items():
        assert rows[name]["status"] == status
        if status == "swapped":  # (ONNX Runtime's threaded kernels may differ in the last bits)
            assert rows[name]["similarity"] == pytest.approx(ref_rows[name]["similarity"], abs=0.002)
            got = load_image(out / name).rgb.astype(int)
            want = load_image(ref_out / name).rgb.astype(int)
            assert np.abs(got - want).max() <= 2, name
    # nothing else in the output folder: no temporary files, no orphans, no partial images
    assert not temp_files(out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted([n for n, s in expected.items() if s == "swapped"] + [MANIFEST_NAME, LOCK_NAME])

    # and a further run (here in process, same options) does nothing
    again = run_batch(target, out, [UnitOptions(source_images=(str(source),))],
                      engine=Engine(EngineOptions(models_dir=str(models_dir))))  # fmt: skip
    assert again.processed == 0 and again.skipped == len(expected)
