"""Batch workers share the cores instead of oversubscribing them (issue 15)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from faceswaplab.batch import runner
from faceswaplab.engine import Engine
from faceswaplab.models import sessions
from faceswaplab.options import EngineOptions, UnitOptions
from tests import fakemodels as fm

SPIN = "session.intra_op.allow_spinning"


def test_worker_threads_share_the_cores():
    assert runner.worker_threads(1, cores=2) == 2
    assert runner.worker_threads(2, cores=2) == 1
    assert runner.worker_threads(3, cores=16) == 5
    assert runner.worker_threads(8, cores=2) == 1


def test_worker_engine_only_changes_automatic_threads(models_dir):
    eng = Engine(EngineOptions(models_dir=str(models_dir)))
    assert runner.worker_engine(eng, 1) is eng
    two = runner.worker_engine(eng, 2)
    assert two is not eng and two.options.threads == runner.worker_threads(2)
    assert eng.options.threads == 0  # the caller's engine is untouched
    assert two.store is eng.store and two.options.replace(threads=0) == eng.options
    fixed = Engine(EngineOptions(models_dir=str(models_dir), threads=3))
    assert runner.worker_engine(fixed, 4) is fixed


def test_sessions_below_the_core_count_do_not_spin(monkeypatch):
    monkeypatch.setattr(sessions, "_cores", lambda: 4)
    assert sessions.session_options(2).get_session_config_entry(SPIN) == "0"
    assert sessions.session_options(2).intra_op_num_threads == 2
    full = sessions.session_options(4)
    assert full.intra_op_num_threads == 4 and SPIN not in _entries(full)
    assert SPIN not in _entries(sessions.session_options(0))


def _entries(so) -> set[str]:
    try:
        so.get_session_config_entry(SPIN)
    except Exception:  # onnxruntime raises for an entry never set
        return set()
    return {SPIN}


def test_two_workers_write_what_one_writes(models_dir, tmp_path):
    tgts = tmp_path / "in"
    tgts.mkdir()
    for i in range(4):
        faces = [(60 + 20 * i, 80, 160, fm.FEMALE, i + 1)]
        Image.fromarray(fm.make_face_image(size=(360, 320), faces=faces, seed=i)).save(tgts / f"t{i}.png")
    src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    units = [UnitOptions(source_images=(src,))]
    outs = {}
    for workers in (1, 2):
        eng = Engine(EngineOptions(models_dir=str(models_dir)))
        out = tmp_path / f"out{workers}"
        summary = runner_run(tgts, out, units, eng, workers)
        assert summary.processed == 4 and summary.counts.get("swapped") == 4, summary.counts
        outs[workers] = {p.name: np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))}
    assert outs[1].keys() == outs[2].keys() and len(outs[1]) == 4
    for name in outs[1]:
        diff = np.abs(outs[1][name].astype(int) - outs[2][name].astype(int))
        assert diff.max() <= 2, name  # other thread counts may round a few pixels differently


def runner_run(tgts, out, units, eng, workers):
    from faceswaplab.batch import BatchOptions, run_batch

    return run_batch(tgts, out, units, options=BatchOptions(workers=workers), engine=eng)
