"""Tell whether each model file is usable, and explain what to do when it is not.

Why this shape:
- A file's status is decided by its sha256 (verified), else by its inputs/outputs (custom:
  used with one warning; corrupt: refused), so a damaged download is refused up front with
  a message instead of failing inside ONNX Runtime.
- Digests and signature results are cached (`digests`), so a start does not re-hash.
- Where the directory is and what a name points to is `paths`; this module adds the checks
  and the messages on top.
- Nothing here touches the network or loads a model into a session.
"""

from __future__ import annotations

import logging
import os
import shlex
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelCorruptError, ModelMissingError
from .digests import CACHE_NAME, cache_for, sha256_file
from .paths import ModelDir, default_models_dir, resolve_models_dir, resolve_models_dir_with_source
from .registry import FOLDER_KINDS, KNOWN_ARCHIVES, KNOWN_MODELS, MODEL_KINDS, ArchiveSpec, ModelSpec

__all__ = [
    "CACHE_NAME",
    "CORRUPT",
    "CUSTOM",
    "DOWNLOAD_COMMAND",
    "MISSING",
    "STATES",
    "VERIFIED",
    "ModelStatus",
    "ModelStore",
    "default_models_dir",
    "resolve_models_dir",
    "resolve_models_dir_with_source",
]

log = logging.getLogger("faceswaplab")

DOWNLOAD_COMMAND = "python -m faceswaplab models download"

VERIFIED = "verified"
CUSTOM = "custom"
CORRUPT = "corrupt"
MISSING = "missing"
STATES = (VERIFIED, CUSTOM, CORRUPT, MISSING)

# The custom files already warned about (path, sha256): the warning is logged once each.
_WARNED: set[tuple[str, str | None]] = set()
_WARNED_LOCK = threading.Lock()


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


def _check_signature(path: Path, kind: str) -> str | None:
    from .signature import check_signature  # lazy: onnx is imported only when needed

    return check_signature(path, kind)


def _shell_quote(text: str) -> str:
    if os.name == "nt":
        return f'"{text}"' if any(c in text for c in ' \t&()^') else text
    return shlex.quote(text)


class ModelStore(ModelDir):
    """The model files of one models directory, with their status (see `ModelDir` for the
    constructor: the directory, the specs and archives, and how it was chosen)."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str],
        *,
        specs: Sequence[ModelSpec] = KNOWN_MODELS,
        archives: Sequence[ArchiveSpec] = KNOWN_ARCHIVES,
        source: str | None = None,
    ) -> None:
        super().__init__(models_dir, specs=specs, archives=archives, source=source)
        self._cache = cache_for(self.models_dir)
        # first_run.Fetcher (the Engine attaches one): fetches a missing known file on first
        # use. None: never touch the network (`models`, `doctor` and plain stores).
        self.fetcher: Any = None

    def __repr__(self) -> str:
        return f"ModelStore({str(self.models_dir)!r})"

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
        A custom file is used; the warning about it is logged once per path and hash. A missing
        known file is fetched first when a fetcher is attached and not offline (first_run.py):
        this is the one place every front end passes through, so each gets the same first run."""
        st = self.status(name, kind)
        note = ""
        if st.state == MISSING and self.fetcher is not None and self._fetchable(st):
            if self.fetcher.fetch(self, self._spec_of(st)):  # raises DownloadError when the transfer fails
                st = self.status(name, kind)
            else:  # offline: nothing touched the network
                note = self.fetcher.offline_note()
        if st.state == VERIFIED:
            return st.path
        if st.state == CUSTOM:
            if st.expected_sha256:
                self._warn_custom_once(st)
            return st.path
        if st.state == MISSING:
            raise ModelMissingError(self.missing_message(st) + note)
        raise ModelCorruptError(self.corrupt_message(st))

    def _fetchable(self, st: ModelStatus) -> bool:
        """A registry file with a download URL, asked for at its own place in the models dir
        (a file the user named by another path is never fetched behind their back)."""
        spec = self._spec_of(st)
        return spec is not None and bool(spec.url) and st.path == self.path_for(spec.name)

    def _warn_custom_once(self, st: ModelStatus) -> None:
        key = (str(self.models_dir), None)  # once per models folder per process (custom packs hold many)
        with _WARNED_LOCK:
            if key in _WARNED:
                return
            _WARNED.add(key)
        spec = self._spec_of(st)
        log.warning(
            "FaceSwapLab: %s has sha256 %s, not the published %s; it has the right inputs/outputs "
            "so it is used (other custom files in this models folder are used without another warning). "
            "If results look wrong, delete it and run: %s",
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
                f"(or put the file at {st.path}; files you already have elsewhere: "
                "--models-dir DIR or FACESWAPLAB_MODELS=DIR)"
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
