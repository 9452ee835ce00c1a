"""Find model files, tell whether each is usable, and explain what to do when it is not.

Why this shape:
- One models directory, chosen by a fixed precedence (`resolve_models_dir`), always an
  absolute path: never relative to the working directory or the repository, because the
  web-ui, the CLI and tests all start from different folders.
- A file's status is decided by its sha256 (verified), else by its inputs/outputs (custom:
  used with one warning; corrupt: refused), so a damaged download is refused up front with
  a message instead of failing inside ONNX Runtime.
- Hashing a 554 MB file at every start is too slow, so digests (and signature results) are
  cached by absolute path, size and mtime in `.faceswaplab-digests.json` in the models dir.
- Nothing here touches the network or loads a model into a session.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ModelCorruptError, ModelMissingError, OptionsError
from .registry import (
    FOLDER_KINDS,
    KNOWN_ARCHIVES,
    KNOWN_MODELS,
    MODEL_KINDS,
    ArchiveSpec,
    ModelSpec,
)

log = logging.getLogger("faceswaplab")

ENV_VAR = "FACESWAPLAB_MODELS"
CACHE_NAME = ".faceswaplab-digests.json"
DOWNLOAD_COMMAND = "python -m faceswaplab models download"

VERIFIED = "verified"
CUSTOM = "custom"
CORRUPT = "corrupt"
MISSING = "missing"
STATES = (VERIFIED, CUSTOM, CORRUPT, MISSING)

# Where the models directory came from (shown by `models` and in messages).
SOURCE_EXPLICIT = "command line"
SOURCE_ENV = ENV_VAR
SOURCE_HOST = "web-ui models path"
SOURCE_DEFAULT = "per-user default"

_HASH_CHUNK = 1 << 20


# --- where the models directory is -----------------------------------------------------------


def default_models_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The per-user data folder for models: never inside the repository or the cwd, so it
    survives reinstalls and does not depend on where the program was started."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path(os.path.expanduser("~"))
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA") or ""
        root = Path(base) if base and os.path.isabs(base) else home / "AppData" / "Local"
        return root / "faceswaplab" / "models"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "faceswaplab" / "models"
    xdg = env.get("XDG_DATA_HOME") or ""
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    root = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".local" / "share"
    return root / "faceswaplab" / "models"


def resolve_models_dir_with_source(
    explicit: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None = None,
    host_default: Path | None = None,
) -> tuple[Path, str]:
    """`resolve_models_dir` plus which rule picked it (for messages and `models --json`)."""
    env = os.environ if env is None else env
    if explicit is not None and str(explicit).strip():
        # Only a path the user typed may be relative: it means "relative to where I am now".
        p = Path(os.path.expanduser(str(explicit).strip()))
        return Path(os.path.abspath(p)), SOURCE_EXPLICIT
    from_env = (env.get(ENV_VAR) or "").strip()
    if from_env:
        p = Path(os.path.expanduser(from_env))
        if not p.is_absolute():
            raise OptionsError(
                f"{ENV_VAR} must be an absolute path (or start with ~), got {from_env!r}: "
                "a relative path would change meaning with the working directory"
            )
        return Path(os.path.normpath(p)), SOURCE_ENV
    if host_default is not None:
        p = Path(os.path.expanduser(os.fspath(host_default)))
        if not p.is_absolute():
            raise ValueError(f"host_default must be absolute, got {host_default!r}")
        return Path(os.path.normpath(p)), SOURCE_HOST
    return default_models_dir(env), SOURCE_DEFAULT


def resolve_models_dir(
    explicit: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None = None,
    host_default: Path | None = None,
) -> Path:
    """explicit (`--models-dir` / `--faceswaplab-models-dir`) > $FACESWAPLAB_MODELS >
    host_default (the web-ui's `<models_path>/faceswaplab`) > per-user default. Always absolute."""
    return resolve_models_dir_with_source(explicit, env, host_default)[0]


# --- status of one file -------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStatus:
    """What we know about one model file. `name` is the registry name, or for a file found
    in a kind folder its path relative to the models dir, or the explicit path given."""

    name: str
    kind: str | None
    path: Path
    state: str  # one of STATES
    reason: str | None
    sha256: str | None
    expected_sha256: str | None
    size: int | None
    known: bool = False
    required: bool = False
    url: str | None = None

    @property
    def usable(self) -> bool:
        return self.state in (VERIFIED, CUSTOM)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def sha256_file(path: Path) -> str:
    """Stream the file through sha256 (module-level so tests can count calls)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_signature(path: Path, kind: str) -> str | None:
    from .signature import check_signature  # lazy: onnx is imported only when needed

    return check_signature(path, kind)


# --- digest cache -------------------------------------------------------------------------------

# One lock for every cache (and the warned-once set): held only around dict access and
# the small JSON write, never while hashing or parsing a model.
_LOCK = threading.Lock()
_CACHES: dict[str, "_DigestCache"] = {}
_WARNED: set[tuple[str, str | None]] = set()


class _DigestCache:
    """sha256 and signature results by absolute path, valid while size and mtime_ns hold.

    Persisted as JSON in the models dir (written to a temp file then os.replace'd, so a
    crash never leaves half a file); if the folder is not writable it stays in memory."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.entries: dict[str, dict[str, Any]] = {}
        self.persistent = True
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict):
            return
        for key, e in files.items():
            if (
                isinstance(e, dict)
                and isinstance(e.get("size"), int)
                and isinstance(e.get("mtime_ns"), int)
                and os.path.exists(key)  # drop entries of files that are gone
            ):
                self.entries[key] = e

    def lookup(self, key: str, size: int, mtime_ns: int) -> dict[str, Any] | None:
        with _LOCK:
            e = self.entries.get(key)
            if e is None or e.get("size") != size or e.get("mtime_ns") != mtime_ns:
                return None
            return dict(e)

    def update(self, key: str, size: int, mtime_ns: int, **fields: Any) -> None:
        with _LOCK:
            e = self.entries.get(key)
            if e is None or e.get("size") != size or e.get("mtime_ns") != mtime_ns:
                e = {"size": size, "mtime_ns": mtime_ns}  # stale: start again
            if "signatures" in fields:
                sigs = dict(e.get("signatures") or {})
                sigs.update(fields.pop("signatures"))
                e["signatures"] = sigs
            e.update(fields)
            self.entries[key] = e
            self._save_locked()

    def _save_locked(self) -> None:
        if not self.persistent or not self.file.parent.is_dir():
            return
        payload = json.dumps({"version": 1, "files": self.entries}, indent=1, sort_keys=True)
        tmp_name = None
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=".faceswaplab-digests.", suffix=".tmp", dir=self.file.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
            os.replace(tmp_name, self.file)
            tmp_name = None
        except OSError as e:
            self.persistent = False
            log.debug("faceswaplab: digest cache not written (%s); keeping it in memory", e)
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass


def _cache_for(models_dir: Path) -> _DigestCache:
    key = str(models_dir)
    with _LOCK:
        cache = _CACHES.get(key)
    if cache is not None:
        return cache
    fresh = _DigestCache(models_dir / CACHE_NAME)  # reads the file outside the lock
    with _LOCK:
        return _CACHES.setdefault(key, fresh)


# --- the store ----------------------------------------------------------------------------------


def _shell_quote(text: str) -> str:
    if os.name == "nt":
        return f'"{text}"' if any(c in text for c in ' \t&()^') else text
    return shlex.quote(text)


class ModelStore:
    """The model files of one models directory.

    `specs`/`archives` default to the registry; tests pass their own (URLs on 127.0.0.1,
    the hash of a stand-in file). `source` says how the directory was chosen."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str],
        *,
        specs: Sequence[ModelSpec] = KNOWN_MODELS,
        archives: Sequence[ArchiveSpec] = KNOWN_ARCHIVES,
        source: str | None = None,
    ) -> None:
        p = Path(os.path.expanduser(os.fspath(models_dir)))
        if not p.is_absolute():
            # The store never guesses against the cwd: callers resolve first.
            raise ValueError(f"models_dir must be absolute (use resolve_models_dir), got {models_dir!r}")
        self.models_dir = Path(os.path.normpath(p))
        self.specs: tuple[ModelSpec, ...] = tuple(specs)
        self.archives: tuple[ArchiveSpec, ...] = tuple(archives)
        self.source = source
        self._cache = _cache_for(self.models_dir)

    @classmethod
    def from_options(
        cls,
        explicit: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        host_default: Path | None = None,
    ) -> "ModelStore":
        path, source = resolve_models_dir_with_source(explicit, env, host_default)
        return cls(path, source=source)

    def __repr__(self) -> str:
        return f"ModelStore({str(self.models_dir)!r})"

    # -- names and paths --

    def spec_for(self, name: str) -> ModelSpec | None:
        key = name.replace("\\", "/").strip("/")
        for spec in self.specs:
            if spec.name == key:
                return spec
        return None

    def path_for(self, name: str) -> Path:
        """Where a file named relative to the models dir lives (no '..', no absolute path:
        a name can never point outside the models directory)."""
        rel = name.replace("\\", "/").strip()
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts or any(p == ".." for p in parts) or os.path.isabs(rel) or ":" in parts[0]:
            raise OptionsError(f"model name {name!r} must be a file name inside the models directory")
        return self.models_dir.joinpath(*parts)

    def folder_for(self, kind: str) -> Path:
        if kind not in FOLDER_KINDS:
            raise ValueError(f"kind {kind!r} has no folder; folders exist for {', '.join(FOLDER_KINDS)}")
        return self.models_dir / FOLDER_KINDS[kind][0]

    def list_dir(self, kind: str) -> list[Path]:
        """The files a user dropped in the kind's folder (sorted, hidden and partial files skipped)."""
        folder = self.folder_for(kind)
        suffix = FOLDER_KINDS[kind][1]
        try:
            entries = list(folder.iterdir())
        except OSError:
            return []
        files = [p for p in entries if p.suffix.lower() == suffix and not p.name.startswith(".") and p.is_file()]
        return sorted(files, key=lambda p: (p.name.lower(), p.name))

    def resolve_file(self, name_or_path: str | os.PathLike[str], kind: str) -> Path:
        """A bare name ('GFPGANv1.4.onnx', or without the suffix) is looked up in the kind's
        folder; anything with a directory part is an explicit path the user typed."""
        text = os.fspath(name_or_path).strip()
        if not text:
            raise OptionsError(f"empty {kind} name")
        if os.path.isabs(os.path.expanduser(text)) or "/" in text or "\\" in text or text.startswith("~"):
            return Path(os.path.abspath(os.path.expanduser(text)))
        if text in (".", ".."):
            raise OptionsError(f"{kind} name {text!r} is not a file name")
        if kind in FOLDER_KINDS:
            folder = self.folder_for(kind)
            suffix = FOLDER_KINDS[kind][1]
            candidate = folder / text
            if not candidate.exists() and not text.lower().endswith(suffix):
                with_suffix = folder / (text + suffix)
                if with_suffix.exists():
                    return with_suffix
            return candidate
        return self.path_for(text)

    def _locate(self, name_or_path: str | os.PathLike[str], kind: str | None) -> tuple[str, Path, ModelSpec | None, str | None]:
        """(display name, path, spec or None, kind) for anything a caller may pass."""
        text = os.fspath(name_or_path)
        spec = self.spec_for(text)
        if spec is not None and (kind is None or kind == spec.kind):
            return spec.name, self.path_for(spec.name), spec, spec.kind
        if kind in FOLDER_KINDS:
            path = self.resolve_file(text, kind)
        elif os.path.isabs(os.path.expanduser(text)):
            path = Path(os.path.abspath(os.path.expanduser(text)))
        else:
            path = self.path_for(text)
        spec = self._spec_by_filename(path, kind)
        if kind is None:
            kind = spec.kind if spec is not None else self._kind_from_folder(path)
        return self._display_name(path), path, spec, kind

    def _spec_by_filename(self, path: Path, kind: str | None) -> ModelSpec | None:
        """A known file given by an explicit path still gets its checksum compared."""
        for spec in self.specs:
            if path == self.path_for(spec.name) or (
                spec.filename == path.name and (kind is None or kind == spec.kind)
            ):
                return spec
        return None

    def _kind_from_folder(self, path: Path) -> str | None:
        for kind, (folder, _suffix) in FOLDER_KINDS.items():
            if path.parent == self.models_dir / folder:
                return kind
        return None

    def _display_name(self, path: Path) -> str:
        try:
            return path.relative_to(self.models_dir).as_posix()
        except ValueError:
            return str(path)

    # -- status --

    def status(self, name_or_path: str | os.PathLike[str], kind: str | None = None) -> ModelStatus:
        """Decide verified / custom / corrupt / missing for one file (hashing at most once per
        size+mtime, checking the signature only when the hash is not the published one)."""
        name, path, spec, kind = self._locate(name_or_path, kind)
        if kind is not None and kind not in MODEL_KINDS:
            raise ValueError(f"status() checks ONNX models; {kind!r} is not a model kind")
        expected = spec.sha256 if spec else None

        def make(state: str, reason: str | None, sha: str | None = None, size: int | None = None) -> ModelStatus:
            return ModelStatus(
                name=name, kind=kind, path=path, state=state, reason=reason, sha256=sha,
                expected_sha256=expected, size=size, known=spec is not None,
                required=bool(spec and spec.required), url=spec.url if spec else None,
            )

        try:
            st = path.stat()
        except FileNotFoundError:
            return make(MISSING, "not found")
        except OSError as e:
            return make(CORRUPT, f"the file cannot be read ({e.strerror or e})")
        if not path.is_file():
            return make(CORRUPT, "not a regular file")
        if st.st_size == 0:
            return make(CORRUPT, "the file is empty (0 bytes): an interrupted download?", None, 0)
        try:
            digest = self._digest(path, st)
        except OSError as e:
            return make(CORRUPT, f"the file cannot be read ({e.strerror or e})", None, st.st_size)
        if expected and digest == expected.lower():
            return make(VERIFIED, None, digest, st.st_size)
        if expected and spec is not None and spec.size is not None and st.st_size == spec.size:
            return make(
                CORRUPT,
                f"it has the published size ({spec.size} bytes) but sha256 {digest} instead of {expected}: "
                "the file is damaged",
                digest, st.st_size,
            )
        if kind is None:
            from .signature import read_io

            try:
                read_io(path)
            except ValueError as e:
                return make(CORRUPT, str(e), digest, st.st_size)
            return make(CUSTOM, "a readable ONNX model of unknown kind: inputs/outputs not checked", digest, st.st_size)
        problem = self._signature(path, st, kind)
        if problem is not None:
            return make(CORRUPT, problem, digest, st.st_size)
        if expected:
            reason = "sha256 differs from the published file, but it loads and has the right inputs/outputs"
        else:
            reason = "no published checksum; it loads and has the right inputs/outputs"
        return make(CUSTOM, reason, digest, st.st_size)

    def statuses(self) -> list[ModelStatus]:
        """Every known model (present or not) plus every file found in restorers/ and parsers/."""
        out = [self.status(spec.name) for spec in self.specs]
        seen = {s.path for s in out}
        for kind in FOLDER_KINDS:
            if kind not in MODEL_KINDS:
                continue  # face checkpoints are not models
            for path in self.list_dir(kind):
                if path not in seen:
                    out.append(self.status(str(path), kind))
        return out

    def _digest(self, path: Path, st: os.stat_result) -> str:
        key = str(path)
        hit = self._cache.lookup(key, st.st_size, st.st_mtime_ns)
        if hit and isinstance(hit.get("sha256"), str):
            return hit["sha256"]
        digest = sha256_file(path)
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):  # not changed meanwhile
            self._cache.update(key, st.st_size, st.st_mtime_ns, sha256=digest)
        return digest

    def _signature(self, path: Path, st: os.stat_result, kind: str) -> str | None:
        key = str(path)
        hit = self._cache.lookup(key, st.st_size, st.st_mtime_ns)
        sigs = (hit or {}).get("signatures") or {}
        if kind in sigs:
            return sigs[kind] or None
        problem = _check_signature(path, kind)
        self._cache.update(key, st.st_size, st.st_mtime_ns, signatures={kind: problem or ""})
        return problem

    def record_digest(self, path: Path, digest: str) -> None:
        """Let the downloader record what it just hashed, so the next start does not re-hash."""
        st = path.stat()
        self._cache.update(str(path), st.st_size, st.st_mtime_ns, sha256=digest)

    # -- require --

    def require(self, name: str | os.PathLike[str], kind: str | None = None) -> Path:
        """A usable path, or a ModelMissingError / ModelCorruptError that says what to do.
        A custom file is used; the warning about it is logged once per path and hash."""
        st = self.status(name, kind)
        if st.state == VERIFIED:
            return st.path
        if st.state == CUSTOM:
            if st.expected_sha256:
                self._warn_custom_once(st)
            return st.path
        if st.state == MISSING:
            raise ModelMissingError(self.missing_message(st))
        raise ModelCorruptError(self.corrupt_message(st))

    def _warn_custom_once(self, st: ModelStatus) -> None:
        key = (str(st.path), st.sha256)
        with _LOCK:
            if key in _WARNED:
                return
            _WARNED.add(key)
        spec = self._spec_of(st)
        log.warning(
            "FaceSwapLab: %s has sha256 %s, not the published %s; it has the right inputs/outputs "
            "so it is used. If results look wrong, delete it and run: %s",
            st.path, st.sha256, st.expected_sha256, self.download_command(spec.name if spec else None),
        )

    def download_command(self, name: str | None = None) -> str:
        """The command that fetches `name` (or every missing required file) into this dir."""
        cmd = DOWNLOAD_COMMAND
        spec = self.spec_for(name) if name else None
        if spec is not None and not spec.required:
            cmd += f" {spec.name}"
        if self.models_dir != default_models_dir():
            cmd += f" --models-dir {_shell_quote(str(self.models_dir))}"
        return cmd

    def _searched(self, st: ModelStatus) -> str:
        where = str(st.path.parent)
        if not self.source:
            return where
        if st.path.parent == self.models_dir:
            return f"{where} (the models directory, from the {self.source})"
        return f"{where} (in the models directory {self.models_dir}, from the {self.source})"

    def _spec_of(self, st: ModelStatus) -> ModelSpec | None:
        if not st.known:
            return None
        return self.spec_for(st.name) or self._spec_by_filename(st.path, st.kind)

    def missing_message(self, st: ModelStatus) -> str:
        """One line: which file, where we looked, its sha256, and the command that fetches it."""
        spec = self._spec_of(st)
        if spec is not None and spec.url and st.path == self.path_for(spec.name):
            sha = f"expected sha256 {spec.sha256}" if spec.sha256 else "no published sha256"
            return (
                f"Model file {spec.filename} is missing: looked for {st.path}; searched {self._searched(st)}; "
                f"{sha}. Fetch it with: {self.download_command(spec.name)} "
                f"(or put the file at {st.path})"
            )
        what = st.kind or "model"
        if st.kind in FOLDER_KINDS:
            available = ", ".join(p.name for p in self.list_dir(st.kind)) or "none"
            return (
                f"{what.capitalize()} file {st.path.name} not found: searched {self._searched(st)} "
                f"(available: {available}). Put .onnx files in {self.folder_for(st.kind)} or give a full path"
            )
        sha = f"; expected sha256 {st.expected_sha256}" if st.expected_sha256 else ""
        return f"Model file {st.path.name} not found: looked for {st.path}; searched {self._searched(st)}{sha}"

    def corrupt_message(self, st: ModelStatus) -> str:
        """One line: which file, why it is refused, and what to do about it."""
        spec = self._spec_of(st)
        if spec is not None and spec.url and st.path == self.path_for(spec.name):
            fix = (
                f"Delete it and fetch it again with: {self.download_command(spec.name)}, "
                f"or replace it with a good copy (sha256 {st.expected_sha256})"
            )
        elif spec is not None:
            fix = f"Delete it or replace it with a good copy of {spec.filename} (sha256 {st.expected_sha256})"
        else:
            fix = "Delete it or replace it with a working file"
        return f"Model file {st.path} cannot be used: {st.reason}. {fix}"


def iter_missing_required(store: ModelStore) -> Iterable[ModelStatus]:
    """Required known files that are not usable (what `models download` would fetch)."""
    for spec in store.specs:
        if spec.required:
            st = store.status(spec.name)
            if not st.usable:
                yield st
