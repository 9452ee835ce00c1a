"""Model store: where the models directory is, file status (verified / custom / corrupt /
missing), the digest cache, signature checks, and the messages a user sees.

No real weights exist here: every model is a tiny ONNX graph built with onnx.helper that
has the same inputs/outputs as the real file of its kind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a bare checkout without an installed package
    sys.path.insert(0, str(REPO))

from faceswaplab.errors import ModelCorruptError, ModelMissingError, OptionsError  # noqa: E402
from faceswaplab.models import digests as digests_mod, registry, store as store_mod  # noqa: E402
from faceswaplab.models.registry import KNOWN_MODELS, ModelSpec, spec_for  # noqa: E402
from faceswaplab.models.signature import check_signature, read_io  # noqa: E402
from faceswaplab.models.store import (  # noqa: E402
    CACHE_NAME,
    CORRUPT,
    CUSTOM,
    MISSING,
    VERIFIED,
    ModelStore,
    default_models_dir,
    resolve_models_dir,
    resolve_models_dir_with_source,
)

F = TensorProto.FLOAT


# --- tiny stand-in models -----------------------------------------------------------------------


def _vi(name: str, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _reduce_then_matmul(name: str, in_shape, width: int, path: Path) -> Path:
    """[N,3,S,S] -> mean over H,W -> [N,3] @ W[3,width] -> [N,width]."""
    nodes = [helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0)]
    inits = []
    if width != 3:
        w = numpy_helper.from_array(np.ones((3, width), np.float32), "w")
        inits.append(w)
        nodes.append(helper.make_node("MatMul", ["pooled", "w"], ["output"]))
    else:
        nodes.append(helper.make_node("Identity", ["pooled"], ["output"]))
    graph = helper.make_graph(nodes, name, [_vi("input", in_shape)], [_vi("output", [in_shape[0], width])], inits)
    return _save(graph, path)


def make_swapper(path: Path) -> Path:
    nodes = [
        helper.make_node("ReduceMean", ["source"], ["s"], axes=[1], keepdims=1),  # [1,1]
        helper.make_node("Unsqueeze", ["s", "axes"], ["s4"]),  # [1,1,1,1]
        helper.make_node("Add", ["target", "s4"], ["output"]),
    ]
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    graph = helper.make_graph(
        nodes, "swapper",
        [_vi("target", [1, 3, 128, 128]), _vi("source", [1, 512])],
        [_vi("output", [1, 3, 128, 128])],
        [axes],
    )
    return _save(graph, path)


def make_detector(path: Path, n_outputs: int = 9) -> Path:
    nodes = [helper.make_node("Identity", ["input.1"], [f"out{i}"]) for i in range(n_outputs)]
    graph = helper.make_graph(
        nodes, "detector", [_vi("input.1", [1, 3, "h", "w"])],
        [_vi(f"out{i}", [1, 3, "h", "w"]) for i in range(n_outputs)],
    )
    return _save(graph, path)


def make_recognition(path: Path) -> Path:
    return _reduce_then_matmul("recognition", ["N", 3, 112, 112], 512, path)


def make_genderage(path: Path) -> Path:
    return _reduce_then_matmul("genderage", ["N", 3, 96, 96], 3, path)


def make_landmark(path: Path, width: int = 212) -> Path:
    return _reduce_then_matmul("landmark", ["N", 3, 192, 192], width, path)


def make_restorer(path: Path, size: int = 512, weight_type: int | None = None) -> Path:
    inputs = [_vi("input", [1, 3, size, size])]
    nodes = [helper.make_node("Identity", ["input"], ["output"])]
    if weight_type is not None:
        inputs.append(_vi("weight", [1], weight_type))
        nodes.append(helper.make_node("Identity", ["weight"], ["weight_out"]))
    outputs = [_vi("output", [1, 3, size, size])]
    if weight_type is not None:
        outputs.append(_vi("weight_out", [1], weight_type))
    return _save(helper.make_graph(nodes, "restorer", inputs, outputs), path)


def make_parser(path: Path, classes: int = 19) -> Path:
    w = numpy_helper.from_array(np.ones((classes, 3, 1, 1), np.float32), "w")
    nodes = [helper.make_node("Conv", ["input", "w"], ["out"])]
    graph = helper.make_graph(
        nodes, "parser", [_vi("input", [1, 3, 512, 512])], [_vi("out", [1, classes, 512, 512])], [w]
    )
    return _save(graph, path)


MAKERS = {
    "swapper": make_swapper,
    "detector": make_detector,
    "recognition": make_recognition,
    "genderage": make_genderage,
    "landmark": make_landmark,
    "restorer": make_restorer,
    "parser": make_parser,
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    return d


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch):
    """Each test sees a fresh process-wide cache / warned-once set."""
    monkeypatch.setattr(digests_mod, "_CACHES", {})
    monkeypatch.setattr(store_mod, "_WARNED", set())


def fake_spec(name: str, path: Path | None = None, **changes) -> ModelSpec:
    base = spec_for(name)
    assert base is not None
    if path is not None:
        changes.setdefault("sha256", sha(path))
    return replace(base, **changes)


# --- the registry ------------------------------------------------------------------------------


def test_registry_lists_the_expected_files_with_kinds():
    names = {s.name: s for s in KNOWN_MODELS}
    assert set(names) == {
        "inswapper_128.onnx", "inswapper_128_fp16.onnx", "buffalo_l/det_10g.onnx", "buffalo_l/w600k_r50.onnx",
        "buffalo_l/genderage.onnx", "buffalo_l/2d106det.onnx", "buffalo_l/1k3d68.onnx",
        "reswapper_128.onnx", "reswapper_256.onnx", "hyperswap_1a_256.onnx", "hyperswap_1b_256.onnx",
        "hyperswap_1c_256.onnx", "ghost_1_256.onnx", "ghost_2_256.onnx", "ghost_3_256.onnx", "simswap_256.onnx",
        "simswap_unofficial_512.onnx", "hififace_unofficial_256.onnx", "crossface_ghost.onnx",
        "crossface_simswap.onnx", "crossface_hififace.onnx",
        "occluders/xseg_1.onnx", "occluders/xseg_2.onnx", "occluders/xseg_3.onnx",
    }
    assert {s.name for s in KNOWN_MODELS if s.required} == {
        "inswapper_128.onnx", "buffalo_l/det_10g.onnx", "buffalo_l/w600k_r50.onnx",
        "buffalo_l/genderage.onnx", "buffalo_l/2d106det.onnx", "buffalo_l/1k3d68.onnx",
    }
    assert names["inswapper_128.onnx"].sha256 == "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af"
    assert names["inswapper_128.onnx"].required and not names["inswapper_128_fp16.onnx"].required
    assert names["buffalo_l/det_10g.onnx"].kind == "detector"
    assert names["buffalo_l/1k3d68.onnx"].kind == "landmark"
    for s in KNOWN_MODELS:
        assert s.url is None or s.url.startswith("https://")
        assert s.sha256 is None or (len(s.sha256) == 64 and s.sha256 == s.sha256.lower())
        assert s.kind in registry.MODEL_KINDS
        if s.archive:
            assert registry.archive_for(s.archive) is not None
    assert spec_for("buffalo_l\\det_10g.onnx") is names["buffalo_l/det_10g.onnx"]
    assert spec_for("nope.onnx") is None


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_each_kind_accepts_its_own_signature_and_rejects_the_others(tmp_path, kind):
    path = MAKERS[kind](tmp_path / f"{kind}.onnx")
    assert check_signature(path, kind) is None
    for other in MAKERS:
        if other == kind or {kind, other} == {"detector", "restorer"}:
            continue  # a 1-output restorer is not a detector; a 9-output detector has no S in 256..2048
        assert check_signature(path, other) is not None, (kind, other)


def test_detector_with_dynamic_size_and_too_few_outputs(tmp_path):
    assert check_signature(make_detector(tmp_path / "d9.onnx"), "detector") is None
    reason = check_signature(make_detector(tmp_path / "d2.onnx", n_outputs=2), "detector")
    assert reason and "only 2 output" in reason


def test_restorer_variants(tmp_path):
    assert check_signature(make_restorer(tmp_path / "gfpgan.onnx", 512), "restorer") is None
    assert check_signature(make_restorer(tmp_path / "gpen.onnx", 256), "restorer") is None
    # CodeFormer: a double `weight` [1] next to the image
    assert check_signature(make_restorer(tmp_path / "codeformer.onnx", 512, TensorProto.DOUBLE), "restorer") is None
    bad_weight = check_signature(make_restorer(tmp_path / "cf_float.onnx", 512, F), "restorer")
    assert bad_weight and "weight" in bad_weight
    odd = check_signature(make_restorer(tmp_path / "odd.onnx", 300), "restorer")
    assert odd and "256, 512, 1024, 2048" in odd


def test_parser_needs_19_classes(tmp_path):
    reason = check_signature(make_parser(tmp_path / "p.onnx", classes=11), "parser")
    assert reason and "[1,11,512,512]" in reason


def test_unreadable_file_is_reported_not_raised(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(random.Random(1).randbytes(4096))
    reason = check_signature(junk, "swapper")
    assert reason and "not a readable ONNX model" in reason
    html = tmp_path / "page.onnx"
    html.write_text("<html><body>404 Not Found</body></html>")
    assert "not a readable ONNX model" in check_signature(html, "swapper")


def test_read_io_drops_initializers_listed_as_inputs(tmp_path):
    path = make_recognition(tmp_path / "r.onnx")
    model = onnx.load(str(path))
    model.graph.input.append(_vi("w", [3, 512]))  # old exporters list weights as inputs
    onnx.save(model, str(path))
    inputs, outputs = read_io(path)
    assert [t.name for t in inputs] == ["input"]
    assert inputs[0].shape == (None, 3, 112, 112)
    assert outputs[0].shape == (None, 512)
    assert check_signature(path, "recognition") is None


# --- where the models dir is -------------------------------------------------------------------


def test_precedence_explicit_env_host_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env_dir = tmp_path / "from_env"
    host = tmp_path / "webui" / "models" / "faceswaplab"
    env = {"FACESWAPLAB_MODELS": str(env_dir), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert resolve_models_dir(str(tmp_path / "x"), env, host) == tmp_path / "x"
    assert resolve_models_dir_with_source(None, env, host) == (env_dir, "FACESWAPLAB_MODELS")
    assert resolve_models_dir("", env, host) == env_dir  # an empty flag is no flag
    assert resolve_models_dir(None, {}, host) == host
    assert resolve_models_dir_with_source(None, {"XDG_DATA_HOME": str(tmp_path / "xdg")}, None) == (
        tmp_path / "xdg" / "faceswaplab" / "models",
        "per-user default",
    )


def test_only_a_typed_path_is_relative_to_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_models_dir("rel/models", {}) == tmp_path / "rel" / "models"
    assert resolve_models_dir("~/m", {}) == tmp_path / "home" / "m"
    assert resolve_models_dir(None, {"FACESWAPLAB_MODELS": "~/envm"}) == tmp_path / "home" / "envm"
    with pytest.raises(OptionsError, match="FACESWAPLAB_MODELS must be an absolute path"):
        resolve_models_dir(None, {"FACESWAPLAB_MODELS": "relative/models"})
    with pytest.raises(ValueError):
        resolve_models_dir(None, {}, Path("relative/host"))
    # the default never depends on the cwd or the repository
    d = resolve_models_dir(None, {"XDG_DATA_HOME": "not/absolute"})
    assert d == tmp_path / "home" / ".local" / "share" / "faceswaplab" / "models"
    assert d.is_absolute()
    monkeypatch.chdir(REPO)
    assert resolve_models_dir(None, {"XDG_DATA_HOME": "not/absolute"}) == d
    assert REPO not in d.parents


def test_per_user_default_on_each_platform(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    assert default_models_dir({}, "linux") == home / ".local/share/faceswaplab/models"
    assert default_models_dir({"XDG_DATA_HOME": "/data/x"}, "linux") == Path("/data/x/faceswaplab/models")
    assert default_models_dir({}, "darwin") == home / "Library/Application Support/faceswaplab/models"
    assert default_models_dir({"LOCALAPPDATA": "/lad"}, "win32") == Path("/lad/faceswaplab/models")
    assert default_models_dir({}, "win32") == home / "AppData/Local/faceswaplab/models"


def test_store_refuses_a_relative_dir():
    with pytest.raises(ValueError):
        ModelStore("models")


# --- status -------------------------------------------------------------------------------------


def test_missing_status_and_message(models_dir):
    store = ModelStore(models_dir)
    st = store.status("inswapper_128.onnx")
    assert st.state == MISSING and not st.usable
    assert st.path == models_dir / "inswapper_128.onnx"
    assert st.expected_sha256 == spec_for("inswapper_128.onnx").sha256
    with pytest.raises(ModelMissingError) as ei:
        store.require("inswapper_128.onnx")
    msg = str(ei.value)
    assert "inswapper_128.onnx" in msg
    assert str(models_dir) in msg
    assert "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af" in msg
    assert f"python -m faceswaplab models download --models-dir {models_dir}" in msg
    assert "\n" not in msg
    assert ei.value.exit_code == 3


def test_missing_pack_file_names_its_folder_and_optional_file_its_name(models_dir):
    store = ModelStore(models_dir, source="FACESWAPLAB_MODELS")
    msg = str(pytest.raises(ModelMissingError, store.require, "buffalo_l/det_10g.onnx").value)
    assert str(models_dir / "buffalo_l") in msg and "det_10g.onnx" in msg and "FACESWAPLAB_MODELS" in msg
    msg = str(pytest.raises(ModelMissingError, store.require, "inswapper_128_fp16.onnx").value)
    assert "models download inswapper_128_fp16.onnx" in msg


def test_command_has_no_models_dir_flag_for_the_default_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    store = ModelStore(default_models_dir())
    msg = str(pytest.raises(ModelMissingError, store.require, "inswapper_128.onnx").value)
    assert msg.endswith(
        f"Fetch it with: python -m faceswaplab models download (or put the file at {store.path_for('inswapper_128.onnx')}; "
        "files you already have elsewhere: --models-dir DIR or FACESWAPLAB_MODELS=DIR)"
    )


def test_custom_file_is_used_with_one_warning(models_dir, caplog):
    path = make_swapper(models_dir / "inswapper_128.onnx")
    store = ModelStore(models_dir)
    st = store.status("inswapper_128.onnx")
    assert st.state == CUSTOM and st.usable
    assert st.sha256 == sha(path) and st.size == path.stat().st_size
    with caplog.at_level(logging.WARNING, logger="faceswaplab"):
        assert store.require("inswapper_128.onnx") == path
        assert store.require("inswapper_128.onnx") == path
        assert ModelStore(models_dir).require(str(path)) == path  # same file by explicit path
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "faceswaplab"]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage() and "e4a3f08c" in warnings[0].getMessage()


def test_corrupt_random_bytes(models_dir):
    (models_dir / "inswapper_128.onnx").write_bytes(random.Random(0).randbytes(10_000))
    store = ModelStore(models_dir)
    st = store.status("inswapper_128.onnx")
    assert st.state == CORRUPT and "not a readable ONNX model" in st.reason
    with pytest.raises(ModelCorruptError) as ei:
        store.require("inswapper_128.onnx")
    msg = str(ei.value)
    assert str(models_dir / "inswapper_128.onnx") in msg
    assert "Delete it" in msg and "python -m faceswaplab models download" in msg and "replace it" in msg


def test_corrupt_empty_file(models_dir):
    (models_dir / "inswapper_128.onnx").write_bytes(b"")
    st = ModelStore(models_dir).status("inswapper_128.onnx")
    assert st.state == CORRUPT and "empty" in st.reason


def test_corrupt_wrong_signature(models_dir):
    make_recognition(models_dir / "inswapper_128.onnx")  # the wrong model in the swapper's place
    st = ModelStore(models_dir).status("inswapper_128.onnx")
    assert st.state == CORRUPT
    assert "wrong inputs/outputs for a swapper" in st.reason


def test_corrupt_when_published_size_but_other_hash(models_dir):
    path = make_swapper(models_dir / "inswapper_128.onnx")
    spec = fake_spec("inswapper_128.onnx", sha256="0" * 64, size=path.stat().st_size)
    st = ModelStore(models_dir, specs=[spec]).status("inswapper_128.onnx")
    assert st.state == CORRUPT  # a good signature does not save a damaged copy of the real file
    assert "published size" in st.reason and "0" * 64 in st.reason


def test_verified_when_hash_matches_and_signature_is_not_read(models_dir, monkeypatch):
    path = make_swapper(models_dir / "inswapper_128.onnx")
    spec = fake_spec("inswapper_128.onnx", path, size=path.stat().st_size)
    monkeypatch.setattr(store_mod, "_check_signature", lambda *a: pytest.fail("signature read for a verified file"))
    store = ModelStore(models_dir, specs=[spec])
    st = store.status("inswapper_128.onnx")
    assert st.state == VERIFIED and st.reason is None and st.sha256 == spec.sha256
    assert store.require("inswapper_128.onnx") == path


def test_pack_file_statuses(models_dir):
    make_detector(models_dir / "buffalo_l" / "det_10g.onnx")
    make_genderage(models_dir / "buffalo_l" / "w600k_r50.onnx")  # wrong one
    store = ModelStore(models_dir)
    assert store.status("buffalo_l/det_10g.onnx").state == CUSTOM
    assert store.status("buffalo_l/w600k_r50.onnx").state == CORRUPT
    assert store.status("buffalo_l/genderage.onnx").state == MISSING


# --- digest cache -------------------------------------------------------------------------------


def test_digest_cache_avoids_rehashing_and_notices_changes(models_dir, monkeypatch):
    path = make_swapper(models_dir / "inswapper_128.onnx")
    calls: list[Path] = []
    real = store_mod.sha256_file
    monkeypatch.setattr(store_mod, "sha256_file", lambda p: (calls.append(p), real(p))[1])
    sig_calls: list[str] = []
    real_sig = store_mod._check_signature
    monkeypatch.setattr(store_mod, "_check_signature", lambda p, k: (sig_calls.append(k), real_sig(p, k))[1])

    store = ModelStore(models_dir)
    first = store.status("inswapper_128.onnx")
    second = store.status("inswapper_128.onnx")
    assert first == second and first.state == CUSTOM
    assert len(calls) == 1 and len(sig_calls) == 1

    # persisted: a new process (fresh in-memory caches) reads the JSON instead of hashing
    cache_file = models_dir / CACHE_NAME
    data = json.loads(cache_file.read_text())
    entry = data["files"][str(path)]
    assert entry["sha256"] == sha(path) and entry["size"] == path.stat().st_size
    assert entry["mtime_ns"] == path.stat().st_mtime_ns
    monkeypatch.setattr(digests_mod, "_CACHES", {})
    assert ModelStore(models_dir).status("inswapper_128.onnx") == first
    assert len(calls) == 1 and len(sig_calls) == 1
    assert not [p for p in models_dir.iterdir() if p.name.endswith(".tmp")]

    # a changed mtime re-hashes
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert store.status("inswapper_128.onnx").state == CUSTOM
    assert len(calls) == 2 and len(sig_calls) == 2

    # a changed size re-hashes (and now the file is damaged)
    with open(path, "ab") as f:
        f.write(b"\0" * 7)
    st3 = store.status("inswapper_128.onnx")
    assert len(calls) == 3
    assert st3.sha256 == sha(path)


def test_digest_cache_in_memory_when_dir_not_writable(models_dir, monkeypatch):
    make_swapper(models_dir / "inswapper_128.onnx")

    def refuse(*a, **k):
        raise PermissionError(13, "read-only")

    monkeypatch.setattr(digests_mod, "atomic_write", refuse)
    calls = []
    real = store_mod.sha256_file
    monkeypatch.setattr(store_mod, "sha256_file", lambda p: (calls.append(p), real(p))[1])
    store = ModelStore(models_dir)
    assert store.status("inswapper_128.onnx").state == CUSTOM
    assert store.status("inswapper_128.onnx").state == CUSTOM
    assert len(calls) == 1
    assert not (models_dir / CACHE_NAME).exists()


def test_broken_cache_file_is_ignored(models_dir):
    (models_dir / CACHE_NAME).write_text("{not json")
    make_swapper(models_dir / "inswapper_128.onnx")
    assert ModelStore(models_dir).status("inswapper_128.onnx").state == CUSTOM
    assert json.loads((models_dir / CACHE_NAME).read_text())["version"] == 1


# --- kind folders ---------------------------------------------------------------------------------


def test_restorers_and_parsers_folders(models_dir, caplog):
    rdir = models_dir / "restorers"
    make_restorer(rdir / "GFPGANv1.4.onnx", 512)
    make_restorer(rdir / "codeformer.onnx", 512, TensorProto.DOUBLE)
    make_parser(rdir / "not_a_restorer.onnx")
    (rdir / ".hidden.onnx").write_bytes(b"x")
    (rdir / "readme.txt").write_text("hi")
    make_parser(models_dir / "parsers" / "bisenet.onnx")
    store = ModelStore(models_dir)

    assert [p.name for p in store.list_dir("restorer")] == ["codeformer.onnx", "GFPGANv1.4.onnx", "not_a_restorer.onnx"]
    assert [p.name for p in store.list_dir("parser")] == ["bisenet.onnx"]
    assert store.list_dir("face") == []

    assert store.resolve_file("GFPGANv1.4.onnx", "restorer") == rdir / "GFPGANv1.4.onnx"
    assert store.resolve_file("GFPGANv1.4", "restorer") == rdir / "GFPGANv1.4.onnx"
    elsewhere = make_restorer(models_dir.parent / "mine" / "r.onnx", 1024)
    assert store.resolve_file(str(elsewhere), "restorer") == elsewhere

    with caplog.at_level(logging.WARNING, logger="faceswaplab"):
        assert store.require("codeformer", "restorer") == rdir / "codeformer.onnx"
        assert store.require(str(elsewhere), "restorer") == elsewhere
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no checksum to differ from

    st = store.status("not_a_restorer.onnx", "restorer")
    assert st.state == CORRUPT and "restorer" in st.reason
    with pytest.raises(ModelCorruptError, match="Delete it or replace it"):
        store.require("not_a_restorer.onnx", "restorer")

    msg = str(pytest.raises(ModelMissingError, store.require, "RestoreFormer.onnx", "restorer").value)
    assert str(rdir) in msg and "codeformer.onnx" in msg and "GFPGANv1.4.onnx" in msg

    listed = {s.name: s for s in store.statuses()}
    assert {s.name for s in KNOWN_MODELS} <= set(listed)
    assert listed["restorers/GFPGANv1.4.onnx"].state == CUSTOM and listed["restorers/GFPGANv1.4.onnx"].kind == "restorer"
    assert listed["restorers/not_a_restorer.onnx"].state == CORRUPT
    assert listed["parsers/bisenet.onnx"].state == CUSTOM
    assert listed["inswapper_128.onnx"].state == MISSING
    assert ".hidden.onnx" not in " ".join(listed)
    json.dumps([s.to_dict() for s in store.statuses()])  # `models --json` can print it


def test_names_cannot_escape_the_models_dir(models_dir):
    store = ModelStore(models_dir)
    for bad in ("../x.onnx", "a/../../x.onnx", "", "/etc/passwd" if os.name != "nt" else "C:/x"):
        with pytest.raises(OptionsError):
            store.path_for(bad)
    with pytest.raises(OptionsError):
        store.resolve_file("..", "restorer")


def test_importing_touches_nothing_heavy():
    code = (
        "import sys, faceswaplab.models.registry, faceswaplab.models.store, faceswaplab.models.download, "
        "faceswaplab.models.signature\n"
        "heavy = [m for m in ('onnx', 'onnxruntime', 'tqdm') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_unknown_kind_is_at_least_readable(models_dir):
    store = ModelStore(models_dir)
    make_parser(models_dir / "whatever.onnx")
    (models_dir / "junk.onnx").write_bytes(b"<html>nope</html>")
    assert store.status("whatever.onnx").state == CUSTOM
    assert store.status("junk.onnx").state == CORRUPT


def test_explicit_path_to_a_known_file_keeps_its_checksum_and_command(models_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "inswapper_128.onnx"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"\0" * 64)
    st = ModelStore(models_dir).status(str(elsewhere))
    assert st.state == CORRUPT and st.known and st.kind == "swapper"
    assert st.expected_sha256 == spec_for("inswapper_128.onnx").sha256
    msg = str(pytest.raises(ModelCorruptError, ModelStore(models_dir).require, str(elsewhere)).value)
    assert str(elsewhere) in msg and "good copy of inswapper_128.onnx" in msg


def test_recognition_needs_a_fixed_112_input(tmp_path):
    path = _reduce_then_matmul("rec", ["N", 3, "h", "w"], 512, tmp_path / "dyn.onnx")
    reason = check_signature(path, "recognition")
    assert reason and "input is input [?,3,?,?]" in reason


def test_concurrent_status_calls_agree(models_dir):
    import threading

    make_swapper(models_dir / "inswapper_128.onnx")
    for i in range(3):
        make_restorer(models_dir / "restorers" / f"r{i}.onnx")
    store = ModelStore(models_dir)
    results, errors = [], []

    def work():
        try:
            results.append(tuple((s.name, s.state, s.sha256) for s in store.statuses()))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    data = json.loads((models_dir / CACHE_NAME).read_text())
    assert len(data["files"]) == 4
