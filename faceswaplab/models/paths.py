"""Where the models directory is, and where a model's name points inside it.

One models directory, chosen by a fixed precedence (`resolve_models_dir`), always an
absolute path: never relative to the working directory or the repository, because the
web-ui, the CLI and tests all start from different folders. A name given for a model can
never point outside that directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import OptionsError
from .registry import FOLDER_KINDS, KNOWN_ARCHIVES, KNOWN_MODELS, ArchiveSpec, ModelSpec

__all__ = [
    "ENV_VAR",
    "SOURCE_DEFAULT",
    "SOURCE_ENV",
    "SOURCE_EXPLICIT",
    "SOURCE_HOST",
    "ModelDir",
    "default_models_dir",
    "resolve_models_dir",
    "resolve_models_dir_with_source",
]

ENV_VAR = "FACESWAPLAB_MODELS"

# Where the models directory came from (shown by `models` and in messages).
SOURCE_EXPLICIT = "command line"
SOURCE_ENV = ENV_VAR
SOURCE_HOST = "web-ui models path"
SOURCE_DEFAULT = "per-user default"


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


class ModelDir:
    """The names and paths of one models directory (what `ModelStore` checks).

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
