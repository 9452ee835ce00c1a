"""Face checkpoints (faceswaplab.checkpoints, .compare, .extract): format, validation,
safety, building, blending, names, atomic writes, older layouts, listing, compare and extract,
and the content filter that build, compare and extract run themselves."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceswaplab import checkpoints as ck
from faceswaplab.analysis.face import normalize
from faceswaplab.checkpoints import container
from faceswaplab.checkpoints.build import build_checkpoint, build_identity
from faceswaplab.compare import compare_faces
from faceswaplab.errors import CheckpointError, FaceSwapLabError, NoFaceError, OptionsError
from faceswaplab.extract import extract_faces
from faceswaplab.identity import Identity
from faceswaplab.models.store import ModelStore
from tests import fakemodels
from tests.checkpoint_helpers import (
    IDENT_A,
    IDENT_B,
    IDENT_C,
    MALFORMED,
    GateSpy,
    blank,
    evil_pickle,
    make_private_models,
    mark_blocked,
    ours,
    photo,
    unit_vec,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    d = tmp_path / "photos"
    d.mkdir()
    return [photo(d / f"a{i}.png", seed=i, side=120 + 12 * i, x=40 + 9 * i) for i in range(5)]


@pytest.fixture(scope="module")
def private_models(tmp_path_factory, models_dir) -> Path:
    return make_private_models(tmp_path_factory.mktemp("ckmodels") / "models", models_dir)


@pytest.fixture
def pengine(private_models):
    """An engine whose checkpoint folder is private to this module (emptied per test)."""
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    faces = private_models / "faces"
    shutil.rmtree(faces, ignore_errors=True)
    return Engine(EngineOptions(models_dir=str(private_models)))


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if anything calls into pickle while it runs."""

    def refuse(*a, **k):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


# --------------------------------------------------------------------------- build / round trip


def test_round_trip_five_photos(engine, photos, tmp_path):
    out = tmp_path / "faces"
    res = build_checkpoint(engine, photos, "Alice", output_dir=out)
    assert res.path == out / "Alice.safetensors" and res.path.is_file()
    assert res.used == [p.name for p in photos] and res.skipped == []
    assert res.path.stat().st_size < 32_000  # small enough to share
    loaded = ck.load_checkpoint(res.path)
    ident = loaded.identity
    assert np.abs(ident.embedding - res.identity.embedding).max() < 1e-6
    assert abs(float(np.linalg.norm(ident.embedding)) - 1.0) < 1e-6
    assert ident.embeddings.shape == (5, 512)
    assert np.allclose(np.linalg.norm(ident.embeddings, axis=1), 1.0, atol=1e-6)
    assert ident.samples == 5 and ident.gender == "female" and ident.age == res.identity.age
    assert not loaded.legacy and loaded.format_version == 2 and loaded.blend_method == "mean"
    m = loaded.metadata
    assert m["format"] == "faceswaplab.face/1" and m["name"] == "Alice" and m["samples"] == "5"
    assert m["embedding_model"] == "buffalo_l/w600k_r50"
    assert m["embedding_model_sha256"] == engine.store.status("buffalo_l/w600k_r50.onnx").sha256
    import datetime

    assert datetime.datetime.fromisoformat(m["created"].replace("Z", "+00:00")).tzinfo is not None
    # the file is plain safetensors: the reference library reads the same values
    from safetensors.numpy import load_file

    t = load_file(str(res.path))
    assert t["embedding"].dtype == np.float32 and t["embedding"].shape == (512,)
    assert t["embeddings"].shape == (5, 512) and int(t["gender"]) == 0 and int(t["age"]) == ident.age


def _embeddings(engine, paths, attributes=False):
    out = []
    for p in paths:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        faces = engine.analyser().analyse(rgb, det_size=640, det_thresh=0.5, attributes=attributes)
        assert len(faces) == 1
        out.append(faces[0])
    return out


@pytest.mark.parametrize("method", ["mean", "median"])
def test_blend_matches_numpy(engine, tmp_path, method):
    d = tmp_path
    # three photos of A, two of B: a visible difference between mean and median
    paths = [photo(d / f"p{i}.png", i, tex=IDENT_A if i < 3 else IDENT_B, side=130 + 7 * i) for i in range(5)]
    faces = _embeddings(engine, paths)
    vecs = np.stack([f.embedding / np.linalg.norm(f.embedding) for f in faces]).astype(np.float64)
    want = vecs.mean(0) if method == "mean" else np.median(vecs, 0)
    want /= np.linalg.norm(want)
    ident, used, skipped = build_identity(engine, paths, blend_method=method)
    assert np.abs(ident.embedding - want).max() < 1e-6
    assert np.abs(ident.embeddings - vecs).max() < 1e-6
    res = ck.save_checkpoint(ident, d / "out", f"blend-{method}", blend_method=method)
    again = ck.load_checkpoint(res)
    assert np.abs(again.identity.embedding - want).max() < 1e-6 and again.blend_method == method


def test_gender_majority_age_median_and_forced(engine, tmp_path):
    colours = [fakemodels.FEMALE, fakemodels.FEMALE, fakemodels.MALE, fakemodels.MALE, fakemodels.MALE]
    paths = [photo(tmp_path / f"g{i}.png", i, colour=c, side=120 + 10 * i) for i, c in enumerate(colours)]
    faces = _embeddings(engine, paths, attributes=True)
    assert [f.gender for f in faces] == ["female", "female", "male", "male", "male"]
    ident, _, _ = build_identity(engine, paths)
    assert ident.gender == "male"
    assert ident.age == int(np.median([f.age for f in faces]))
    forced, _, _ = build_identity(engine, paths, gender="female")
    assert forced.gender == "female" and np.allclose(forced.embedding, ident.embedding)


def test_build_skips_photos_without_a_face(engine, photos, tmp_path):
    empty = blank(tmp_path / "empty.png")
    res = build_checkpoint(engine, [photos[0], empty, photos[1]], "bob", output_dir=tmp_path / "f")
    assert res.used == [photos[0].name, photos[1].name]
    assert len(res.skipped) == 1 and "empty.png" in res.skipped[0]
    assert ck.load_checkpoint(res.path).identity.samples == 2
    with pytest.raises(NoFaceError, match="no usable face") as ei:
        build_checkpoint(engine, [empty, empty], "none", output_dir=tmp_path / "f")
    assert ei.value.exit_code == 4
    assert not (tmp_path / "f" / "none.safetensors").exists()


def test_build_largest_face_by_default_index_selectable(engine, tmp_path):
    img = fakemodels.make_face_image(
        (520, 300), faces=[(20, 60, 90, fakemodels.FEMALE, IDENT_A), (200, 30, 220, fakemodels.FEMALE, IDENT_B)], seed=1
    )
    p = tmp_path / "two.png"
    Image.fromarray(img).save(p)
    a = _embeddings(engine, [photo(tmp_path / "a.png", 3, tex=IDENT_A)])[0].embedding
    b = _embeddings(engine, [photo(tmp_path / "b.png", 4, tex=IDENT_B)])[0].embedding
    largest, _, _ = build_identity(engine, [p])
    left, _, _ = build_identity(engine, [p], face_index=0)
    assert float(largest.embedding @ b) > 0.9 > float(largest.embedding @ a)
    assert float(left.embedding @ a) > 0.9 > float(left.embedding @ b)
    _, used, skipped = build_identity(engine, [p, tmp_path / "a.png"], face_index=1)
    assert used == ["two.png"] and "out of range" in skipped[0]


def test_build_unreadable_image_is_bad_input(engine, tmp_path, photos):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(FaceSwapLabError) as ei:
        build_checkpoint(engine, [photos[0], bad], "x", output_dir=tmp_path / "f")
    assert ei.value.exit_code == 2


# --------------------------------------------------------------------------- safety: pickles


@pytest.mark.parametrize("name", ["face.pkl", "face.pt", "face.ckpt", "face.pth", "face.safetensors", "face.bin"])
def test_pickles_are_refused_without_unpickling(tmp_path, no_unpickling, name):
    marker = tmp_path / "PWNED"
    p = tmp_path / name
    p.write_bytes(evil_pickle(marker))
    with pytest.raises(CheckpointError) as ei:
        ck.load_checkpoint(p)
    msg = ei.value.message
    assert ei.value.exit_code == 2
    assert name in msg and "pickle" in msg and "run any code" in msg and "faceswaplab build" in msg
    assert not marker.exists()


def test_torch_zip_renamed_is_refused(tmp_path, no_unpickling):
    p = tmp_path / "model.safetensors"
    with zipfile.ZipFile(p, "w") as z:  # the layout of torch.save: a zip with data.pkl inside
        z.writestr("archive/data.pkl", evil_pickle(tmp_path / "PWNED"))
    with pytest.raises(CheckpointError, match="zip archive") as ei:
        ck.load_checkpoint(p)
    assert "pickle" in ei.value.message and not (tmp_path / "PWNED").exists()


def test_protocol0_pickle_renamed_is_refused(tmp_path, no_unpickling):
    p = tmp_path / "old.safetensors"
    p.write_bytes(pickle.dumps({"embedding": [1.0, 2.0]}, protocol=0))
    with pytest.raises(CheckpointError, match="pickle"):
        ck.load_checkpoint(p)


def test_header_length_starting_with_pickle_magic_still_loads(tmp_path):
    """A legit header of 0x280 bytes starts the file with 80 02: that is not a pickle."""
    data = ours()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["name"] = "p" * (0x280 - n + len(header["__metadata__"]["name"]))
    h = json.dumps(header).encode()
    h += b" " * (0x280 - len(h))
    assert len(h) == 0x280
    blob = struct.pack("<Q", len(h)) + h + data[8 + n :]
    assert blob[:2] == b"\x80\x02"
    p = tmp_path / "magic.safetensors"
    p.write_bytes(blob)
    assert ck.load_checkpoint(p).identity.gender == "female"


# --------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_checkpoints_are_refused(tmp_path, case, no_unpickling):
    data, phrase = MALFORMED[case]
    p = tmp_path / f"{case}.safetensors"
    p.write_bytes(data)
    with pytest.raises(CheckpointError) as ei:
        ck.load_checkpoint(p)
    err = ei.value
    assert err.exit_code == 2
    assert p.name in err.message, err.message
    assert phrase.lower() in err.message.lower(), err.message
    assert "\n" not in err.message
    # the same bytes from memory (an upload) give the same verdict
    with pytest.raises(CheckpointError):
        ck.decode_checkpoint(data, "upload.safetensors")


def test_directory_and_missing_file(tmp_path):
    d = tmp_path / "dir.safetensors"
    d.mkdir()
    with pytest.raises(CheckpointError, match="folder"):
        ck.load_checkpoint(d)
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.load_checkpoint(tmp_path / "nope.safetensors")


def test_oversized_file_refused_from_its_size(tmp_path, monkeypatch):
    p = tmp_path / "big.safetensors"
    p.write_bytes(ours())
    monkeypatch.setattr(container, "MAX_FILE_BYTES", 1000)
    with pytest.raises(CheckpointError, match="limit"):
        ck.load_checkpoint(p)


# --------------------------------------------------------------------------- older layouts


def test_older_tool_layouts_load_and_are_normalised(tmp_path):
    from safetensors.numpy import save_file

    raw = unit_vec(5, scale=23.7)  # insightface's raw embedding has a norm around 20
    want = raw / np.linalg.norm(raw)
    # FaceSwapLab 1.x: embedding, gender, age (torch.tensor of numpy ints: I64 scalars)
    save_file({"embedding": raw, "gender": np.array(1, np.int64), "age": np.array(34, np.int64)}, str(tmp_path / "fsl1.safetensors"))
    # ReActor-style face model: everything of insightface's Face, as float tensors
    save_file(
        {
            "bbox": np.array([10, 20, 110, 130], np.float32),
            "kps": np.zeros((5, 2), np.float32),
            "det_score": np.array(0.87, np.float32),
            "landmark_3d_68": np.zeros((68, 3), np.float32),
            "landmark_2d_106": np.zeros((106, 2), np.float32),
            "pose": np.zeros(3, np.float32),
            "embedding": raw,
            "gender": np.array(0.0, np.float32),
            "age": np.array(27.0, np.float32),
        },
        str(tmp_path / "reactor.safetensors"),
        metadata={"format": "pt"},
    )
    # float64 [1,512] and no gender/age
    save_file({"embedding": raw.astype(np.float64)[None]}, str(tmp_path / "f64.safetensors"))
    got = {p.stem: ck.load_checkpoint(p) for p in sorted(tmp_path.glob("*.safetensors"))}
    for c in got.values():
        assert c.legacy
        assert np.abs(c.identity.embedding - want).max() < 1e-6
        assert c.identity.embeddings.shape == (1, 512) and c.identity.samples == 1
    assert (got["fsl1"].identity.gender, got["fsl1"].identity.age) == ("male", 34)
    assert (got["reactor"].identity.gender, got["reactor"].identity.age) == ("female", 27)
    assert (got["f64"].identity.gender, got["f64"].identity.age) == (None, None)


def test_legacy_file_in_the_faces_folder_swaps(pengine, tmp_path):
    """A 1.x file dropped in <models>/faces/ is listed and usable by name in a unit."""
    from safetensors.numpy import save_file

    from faceswaplab.options import UnitOptions
    from faceswaplab.pipeline import resolve_identity

    emb = _embeddings(pengine, [photo(tmp_path / "b.png", 2, tex=IDENT_B)])[0].embedding * 19.0
    folder = ck.checkpoint_folder(pengine.store)
    folder.mkdir(parents=True)
    save_file({"embedding": emb.astype(np.float32), "gender": np.array(0), "age": np.array(40)}, str(folder / "old_ben.safetensors"))
    info = ck.list_checkpoints(pengine.store)
    assert [(i.name, i.ok, i.legacy) for i in info] == [("old_ben", True, True)]
    ident = resolve_identity(pengine, UnitOptions(face="old_ben"))
    assert ident.label == "old_ben.safetensors" and abs(float(np.linalg.norm(ident.embedding)) - 1) < 1e-6


# --------------------------------------------------------------------------- names and writing


@pytest.mark.parametrize(
    "name, want",
    [
        ("../../evil", "evil"),
        ("..\\..\\evil", "evil"),
        ("/etc/passwd", "etc_passwd"),
        ("a/b", "a_b"),
        ("a..b", "a.b"),
        (".hidden", "hidden"),
        ("Élodie  Dupont", "Élodie Dupont"),
        ("we<i>rd:na*me?", "we_i_rd_na_me"),
        ("alice.safetensors", "alice"),
        ("con", "con_"),
        ("x" * 500, "x" * 100),
    ],
)
def test_sanitize_name(name, want):
    assert ck.sanitize_name(name) == want


@pytest.mark.parametrize("name", ["", "   ", "..", "/", "../..", "***"])
def test_sanitize_name_refuses_empty_results(name):
    with pytest.raises(OptionsError):
        ck.sanitize_name(name)


def test_evil_name_stays_inside_the_folder(tmp_path):
    folder = tmp_path / "faces"
    p = ck.save_checkpoint(Identity(unit_vec()), folder, "../../evil")
    assert p == folder / "evil.safetensors" and p.parent == folder
    assert sorted(x.name for x in tmp_path.rglob("*") if x.is_file()) == ["evil.safetensors"]
    assert ck.load_checkpoint(p).name == "../../evil"  # the display name is kept, as text


def test_existing_file_is_not_overwritten_unless_asked(tmp_path):
    f = tmp_path / "faces"
    p0 = ck.save_checkpoint(Identity(unit_vec(1)), f, "ann")
    p1 = ck.save_checkpoint(Identity(unit_vec(2)), f, "ann")
    p2 = ck.save_checkpoint(Identity(unit_vec(3)), f, "ann")
    assert [p0.name, p1.name, p2.name] == ["ann.safetensors", "ann_1.safetensors", "ann_2.safetensors"]
    assert np.allclose(ck.load_checkpoint(p0).identity.embedding, unit_vec(1), atol=1e-6)
    p3 = ck.save_checkpoint(Identity(unit_vec(4)), f, "ann", overwrite=True)
    assert p3 == p0 and np.allclose(ck.load_checkpoint(p0).identity.embedding, unit_vec(4), atol=1e-6)
    assert not [x for x in f.iterdir() if x.name.startswith(".")]


def test_interrupted_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    f = tmp_path / "faces"
    p = ck.save_checkpoint(Identity(unit_vec(1), gender="male"), f, "keep")
    before = p.read_bytes()

    def crash(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(FaceSwapLabError, match="could not write") as ei:
        ck.save_checkpoint(Identity(unit_vec(2)), f, "keep", overwrite=True)
    assert ei.value.exit_code == 6  # could not write the output
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert sorted(x.name for x in f.iterdir()) == ["keep.safetensors"]  # no temp file left


def test_process_killed_midway_leaves_previous_file_intact(tmp_path):
    """A real crash (the process dies inside the write) cannot leave half a checkpoint."""
    f = tmp_path / "faces"
    p = ck.save_checkpoint(Identity(unit_vec(1)), f, "keep")
    before = p.read_bytes()
    code = (
        "import os, sys, numpy as np\n"
        "from faceswaplab import checkpoints as ck\n"
        "from faceswaplab.identity import Identity\n"
        "os.fsync = lambda fd: os._exit(9)\n"
        "v = np.random.default_rng(2).standard_normal(512).astype(np.float32)\n"
        f"ck.save_checkpoint(Identity(v), {str(f)!r}, 'keep', overwrite=True)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 9, r.stderr.decode()
    assert p.read_bytes() == before
    store = ModelStore(tmp_path)
    assert [i.name for i in ck.list_checkpoints(store)] == ["keep"]  # a leftover temp file is hidden


# --------------------------------------------------------------------------- folder, names, units


def test_listing_refreshes_without_restart(pengine, tmp_path):
    store = pengine.store
    assert ck.list_checkpoints(store) == []
    folder = ck.checkpoint_folder(store)
    assert folder == store.models_dir / "faces"
    ck.save_checkpoint(Identity(unit_vec(1)), folder, "zoe")
    assert ck.checkpoint_names(store) == ["zoe"]
    ck.save_checkpoint(Identity(unit_vec(2)), folder, "adam")
    (folder / "broken.safetensors").write_bytes(b"junk")
    (folder / "old.pkl").write_bytes(pickle.dumps({"a": 1}))
    infos = {i.name: i for i in ck.list_checkpoints(store)}
    assert ck.checkpoint_names(store) == ["adam", "zoe"]
    assert not infos["broken"].ok and "broken.safetensors" in infos["broken"].error
    assert not infos["old"].ok and "pickle" in infos["old"].error
    assert infos["zoe"].samples == 1 and infos["zoe"].created


def test_resolve_by_name_path_and_unknown(pengine, tmp_path):
    store = pengine.store
    folder = ck.checkpoint_folder(store)
    p = ck.save_checkpoint(Identity(unit_vec(1)), folder, "carol")
    assert ck.resolve_checkpoint("carol", store) == p
    assert ck.resolve_checkpoint("carol.safetensors", store) == p
    elsewhere = ck.save_checkpoint(Identity(unit_vec(2)), tmp_path / "x", "dan")
    assert ck.resolve_checkpoint(str(elsewhere), store) == elsewhere
    with pytest.raises(CheckpointError) as ei:
        ck.resolve_checkpoint("erin", store)
    assert "available: carol" in ei.value.message and "build --name erin" in ei.value.message
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.resolve_checkpoint(str(tmp_path / "nope" / "f.safetensors"), store)


def test_unit_blends_photos_with_checkpoint_weighted_by_samples(pengine, tmp_path, photos):
    from faceswaplab.options import UnitOptions
    from faceswaplab.pipeline import resolve_identity

    res = build_checkpoint(pengine, photos, "five")  # default folder: <models>/faces
    assert res.path.parent == pengine.store.models_dir / "faces"
    other = photo(tmp_path / "other.png", 9, tex=IDENT_C)
    e_other = _embeddings(pengine, [other])[0].embedding
    ident = resolve_identity(pengine, UnitOptions(source_images=[str(other)], face="five"))
    want = 5 * res.identity.embedding.astype(np.float64) + 1 * e_other / np.linalg.norm(e_other)
    want /= np.linalg.norm(want)
    assert ident.samples == 6 and np.abs(ident.embedding - want).max() < 1e-6
    # the checkpoint alone
    alone = resolve_identity(pengine, UnitOptions(face=str(res.path)))
    assert np.abs(alone.embedding - res.identity.embedding).max() < 1e-6 and alone.samples == 5


def test_build_with_preview(pengine, tmp_path, photos):
    target = photo(tmp_path / "neutral.png", 11, tex=IDENT_C, side=150)
    res = build_checkpoint(pengine, photos, "prev", preview=target)
    assert res.preview == res.path.with_name("prev.png") and res.preview.is_file()
    before = np.asarray(Image.open(target).convert("RGB")).astype(int)
    after = np.asarray(Image.open(res.preview).convert("RGB")).astype(int)
    assert np.abs(after[90:170, 100:180] - before[90:170, 100:180]).mean() > 5  # the face changed
    assert np.array_equal(after[:, 250:], before[:, 250:])  # far from the face: untouched


# --------------------------------------------------------------------------- compare


def test_compare(engine, tmp_path, photos):
    same = compare_faces(engine, photos[0], photos[0])
    assert same.similarity == 1.0 and same.a.kind == "image" and len(same.a.faces) == 1
    again = compare_faces(engine, photos[0], photos[3])  # same person, other size and place
    other = photo(tmp_path / "o.png", 1, tex=IDENT_B)
    diff = compare_faces(engine, photos[0], other)
    assert again.similarity > 0.9 > diff.similarity >= 0.0
    p = ck.save_checkpoint(Identity(_embeddings(engine, [photos[0]])[0].embedding), tmp_path / "f", "me")
    vs_ck = compare_faces(engine, photos[0], str(p))
    assert vs_ck.similarity == pytest.approx(1.0, abs=1e-6) and vs_ck.b.kind == "checkpoint"
    assert compare_faces(engine, str(p), str(p)).similarity == pytest.approx(1.0, abs=1e-6)
    d = vs_ck.to_dict()
    assert set(d) == {"similarity", "a", "b"} and d["a"]["faces_found"] == 1
    with pytest.raises(NoFaceError):
        compare_faces(engine, blank(tmp_path / "e.png"), photos[0])
    with pytest.raises(NoFaceError, match="out of range"):
        compare_faces(engine, photos[0], photos[1], index_b=2)


def test_compare_by_checkpoint_name(pengine, photos):
    build_checkpoint(pengine, photos, "named")
    r = compare_faces(pengine, photos[2], "named")
    assert r.b.kind == "checkpoint" and r.similarity > 0.95


# --------------------------------------------------------------------------- extract


def test_extract_box_crops_with_margin(engine):
    faces = [(40, 60, 100, fakemodels.FEMALE, 1), (300, 40, 160, fakemodels.MALE, 2)]
    img = fakemodels.make_face_image((520, 300), faces=faces, seed=4)
    crops = extract_faces(engine, img, margin=0.2)
    assert [c.index for c in crops] == [0, 1]
    # boxes grown by 20% of the face on each side (the detector's box is within ~1 px after
    # its letterbox resize, hence the tolerance)
    assert np.abs(np.subtract(crops[0].box, (20, 40, 160, 180))).max() <= 1
    assert np.abs(np.subtract(crops[1].box, (268, 8, 492, 232))).max() <= 1
    for c in crops:
        x0, y0, x1, y1 = c.box
        assert np.array_equal(c.rgb, img[y0:y1, x0:x1])
        bx0, by0, bx1, by1 = c.face.bbox
        mx, my = 0.2 * (bx1 - bx0), 0.2 * (by1 - by0)
        assert c.box == (int(np.floor(bx0 - mx)), int(np.floor(by0 - my)), int(np.ceil(bx1 + mx)), int(np.ceil(by1 + my)))
    tight = extract_faces(engine, img, margin=0.0)
    for c, side in zip(tight, (100, 160)):
        assert abs(c.rgb.shape[0] - side) <= 2 and abs(c.rgb.shape[1] - side) <= 2
    clipped = extract_faces(engine, img, margin=1.0)  # clipped to the image
    assert clipped[1].box[1:] == (0, 520, 300) and abs(clipped[1].box[0] - 140) <= 1


@pytest.mark.parametrize("size", [112, 128, 224, 256, 512])
def test_extract_aligned_crops(engine, size):
    img = fakemodels.make_face_image((400, 300), faces=[(120, 60, 150, fakemodels.FEMALE, 3)], seed=2)
    (crop,) = extract_faces(engine, img, aligned_size=size)
    assert crop.rgb.shape == (size, size, 3) and crop.rgb.dtype == np.uint8
    # the aligned crop is what the recognizer sees: its embedding is the face's
    rec = engine.recognizer()
    small = crop.rgb if size == 112 else extract_faces(engine, img, aligned_size=112)[0].rgb
    emb = normalize(np.asarray(rec.get_feat(np.ascontiguousarray(small[:, :, ::-1]))).reshape(-1))
    assert float(emb @ crop.face.embedding) > 0.999
    # the face square fills the template region: bright in the middle, for any size
    c = size // 2
    assert crop.rgb[c - 4 : c + 4, c - 4 : c + 4].min() >= 150


@pytest.mark.parametrize("size", [0, 100, 120, 4096, "big"])
def test_extract_rejects_bad_sizes(engine, size):
    with pytest.raises(OptionsError):
        extract_faces(engine, np.zeros((64, 64, 3), np.uint8), aligned_size=size)


def test_extract_no_face_and_bad_margin(engine):
    assert extract_faces(engine, fakemodels.make_face_image((200, 200), faces=[], seed=1)) == []
    with pytest.raises(OptionsError, match="margin"):
        extract_faces(engine, np.zeros((64, 64, 3), np.uint8), margin=-1)


# --------------------------------------------------------------------------- bytes API


def test_encode_decode_bytes():
    v = unit_vec(8, scale=3.0)
    data = ck.encode_checkpoint(Identity(v, gender="male", age=41, samples=1), name="Zed", created="2024-01-02T03:04:05Z")
    c = ck.decode_checkpoint(data)
    assert np.allclose(c.identity.embedding, v / np.linalg.norm(v), atol=1e-6)
    assert (c.identity.gender, c.identity.age, c.name, c.created) == ("male", 41, "Zed", "2024-01-02T03:04:05Z")
    assert "embeddings" not in json.loads(data[8 : 8 + struct.unpack("<Q", data[:8])[0]])  # one sample: no stack


def test_custom_folder_listing_and_resolution(tmp_path):
    """The web-ui may point at another checkpoint folder: names resolve and list there too."""
    folder = tmp_path / "custom"
    p = ck.save_checkpoint(Identity(unit_vec(1)), folder, "fay")
    (folder / ".fay.1234abcd.tmp").write_bytes(b"half")  # a crashed write's leftover: hidden
    assert [i.name for i in ck.list_checkpoints(None, folder=folder)] == ["fay"]
    assert ck.checkpoint_names(None, folder=folder) == ["fay"]
    assert ck.resolve_checkpoint("fay", None, folder=folder) == p
    info = ck.checkpoint_info(p)
    assert info.ok and info.samples == 1 and info.display_name == "fay" and not info.legacy
    with pytest.raises(CheckpointError, match="available: fay"):
        ck.resolve_checkpoint("gus", None, folder=folder)


def test_preview_problems_fail_before_anything_is_written(engine, tmp_path, photos):
    from faceswaplab.engine import Engine
    from faceswaplab.errors import ModelMissingError
    from faceswaplab.options import EngineOptions

    out = tmp_path / "f"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    with pytest.raises(FaceSwapLabError) as ei:
        build_checkpoint(engine, photos, "p", output_dir=out, preview=bad)
    assert ei.value.exit_code == 2 and not out.exists()
    no_swapper = Engine(EngineOptions(models_dir=engine.options.models_dir, swapper="missing_swapper.onnx"))
    with pytest.raises(ModelMissingError):
        build_checkpoint(no_swapper, photos, "p", output_dir=out, preview=photos[0])
    assert not out.exists()
    # a preview image without a face: the checkpoint is written, the preview is a warning
    res = build_checkpoint(engine, photos, "p", output_dir=out, preview=blank(tmp_path / "e.png"))
    assert res.path.is_file() and res.preview is None and "no preview written" in res.warnings[0]


# --------------------------------------------------------------------------- content filter


@pytest.fixture
def spy_engine(models_dir):
    """An engine whose content filter is a `GateSpy` (blocks marked images, counts calls)."""
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    return Engine(EngineOptions(models_dir=str(models_dir)), nsfw_detector=GateSpy())


def test_build_compare_extract_filter_each_image_once(spy_engine, photos, tmp_path):
    spy = spy_engine.nsfw_detector
    build_checkpoint(spy_engine, photos[:3], "three", output_dir=tmp_path / "f")
    assert len(spy.seen) == 3
    spy.seen.clear()
    p = ck.save_checkpoint(Identity(unit_vec(1)), tmp_path / "f", "ck")
    compare_faces(spy_engine, photos[0], photos[1])
    assert len(spy.seen) == 2
    spy.seen.clear()
    compare_faces(spy_engine, photos[0], str(p))  # a checkpoint side has no image to filter
    assert len(spy.seen) == 1
    spy.seen.clear()
    extract_faces(spy_engine, photos[0])
    assert len(spy.seen) == 1
    spy.seen.clear()
    target = photo(tmp_path / "neutral.png", 11, tex=IDENT_C, side=150)
    res = build_checkpoint(spy_engine, photos[:2], "prev", output_dir=tmp_path / "f", preview=target)
    assert res.preview is not None and len(spy.seen) == 3  # two photos, then the preview in swap_image


def test_blocked_photo_refuses_build_compare_and_extract(spy_engine, photos, tmp_path):
    from faceswaplab.errors import BlockedError

    bad = mark_blocked(photos[1])
    out = tmp_path / "f"
    with pytest.raises(BlockedError, match="blocked by the content filter") as ei:
        build_checkpoint(spy_engine, [photos[0], bad, photos[2]], "nope", output_dir=out)
    assert ei.value.exit_code == 5 and bad.name in ei.value.message and "\n" not in ei.value.message
    assert not out.exists()  # nothing written
    with pytest.raises(BlockedError, match="image B"):
        compare_faces(spy_engine, photos[0], bad)
    with pytest.raises(BlockedError, match="content filter"):
        extract_faces(spy_engine, bad)
    # a blocked preview only costs the preview, as it always did
    res = build_checkpoint(spy_engine, [photos[0]], "prev", output_dir=out, preview=bad)
    assert res.path.is_file() and res.preview is None and "content filter" in res.warnings[0]


def test_tab_refuses_blocked_images_with_a_message(spy_engine, photos, tmp_path):
    from faceswaplab.ui import tab

    rgb = [np.asarray(Image.open(p).convert("RGB")) for p in photos[:3]]
    bad = rgb[1].copy()
    bad[0:4, 0:4] = (255, 0, 0)
    folder = tmp_path / "faces"
    img, msg = tab.do_build(spy_engine, [rgb[0], bad, rgb[2]], "nope", "auto", False, None, folder)
    assert img is None and msg.startswith("**Not built:**") and "content filter" in msg
    assert not folder.exists()
    assert "content filter" in tab.do_compare(spy_engine, rgb[0], bad)
    crops, msg = tab.do_extract(spy_engine, bad, False)
    assert crops == [] and "content filter" in msg
    # the same tab actions on clean images go through
    _, msg = tab.do_build(spy_engine, rgb, "ok", "auto", False, None, folder)
    assert msg.startswith("Saved") and (folder / "ok.safetensors").is_file()
    assert "Similarity" in tab.do_compare(spy_engine, rgb[0], rgb[2])


def test_api_handlers_filter_once_and_answer_451(spy_engine, photos, tmp_path):
    import base64

    from faceswaplab.api import handlers
    from faceswaplab.api import models as m
    from faceswaplab.errors import BlockedError

    b64 = [base64.b64encode(p.read_bytes()).decode() for p in photos[:3]]
    ctx = handlers.ApiContext(engine=lambda: spy_engine, checkpoints_dir=lambda: tmp_path / "api")
    spy = spy_engine.nsfw_detector
    out = handlers.build(m.BuildRequest(images=b64, name="api"), ctx)
    assert out["name"] == "api" and out["samples"] == 3 and len(spy.seen) == 3
    assert ck.load_checkpoint(tmp_path / "api" / "api.safetensors").embedding_model_sha256  # same build as the CLI's
    spy.seen.clear()
    handlers.compare(m.CompareRequest(image_a=b64[0], checkpoint_b="api"), ctx)
    handlers.extract(m.ExtractRequest(image=b64[1]), ctx)
    assert len(spy.seen) == 2
    bad = base64.b64encode(mark_blocked(photos[2]).read_bytes()).decode()
    for call in (
        lambda: handlers.build(m.BuildRequest(images=[b64[0], bad]), ctx),
        lambda: handlers.compare(m.CompareRequest(image_a=bad, image_b=b64[0]), ctx),
        lambda: handlers.extract(m.ExtractRequest(image=bad), ctx),
    ):
        with pytest.raises(BlockedError) as ei:
            call()
        assert ei.value.http_status == 451
