"""What the app lets a browser name on the server when it listens on a network address.

Why: on 127.0.0.1 the person at the browser is the person at the server, so typed folders
and files are theirs to name. On a network address (`ui --host 0.0.0.0`) anyone who can log
in would otherwise read and write any server folder (`/etc`, `../../..`) through the Batch,
Dataset and Video tabs, and put a server path into a dropdown (gradio accepts custom values).
So there, unless `ui --allow-server-paths`:

- typed input folders and video files must lie inside the *input root* (`--input-root`,
  default: the folder the app was started in), typed output folders and files inside the
  *output root* (`--output-dir` / `--output-root`, default ./faceswaplab-output); a relative
  text is taken relative to its root, symlinks are resolved before the check;
- every dropdown with a list of models or checkpoints takes only a listed name;
- refusals are one line that names the problem, never a server path, and results name
  their folders relative to the roots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ..api.guard import is_listed, looks_like_path
from ..errors import BadInputError, OptionsError, WriteError
from ..options import forms
from ..options.forms import Control


@dataclass(frozen=True)
class Confinement:
    """The roots typed paths must stay in (see the module docstring)."""

    input_root: Path
    output_root: Path

    @classmethod
    def of(cls, input_root: Any, output_root: Any) -> "Confinement":
        return cls(Path(os.path.realpath(os.path.expanduser(str(input_root)))),
                   Path(os.path.realpath(os.path.expanduser(str(output_root)))))  # fmt: skip

    def _resolve(self, text: str, root: Path, what: str, flag: str) -> Path:
        if "\x00" in text:
            raise OptionsError(f"the {what} name is not valid")
        raw = Path(os.path.expanduser(text)) if text.startswith("~") else Path(text)
        full = Path(os.path.realpath(raw if raw.is_absolute() else root / raw))
        if not full.is_relative_to(root):
            raise OptionsError(
                f"the {what} must be inside the app's {'input' if flag == '--input-root' else 'output'} folder "
                f"({flag}); give a name relative to it"
            )
        return full

    def input_path(self, text: str, what: str = "input folder") -> Path:
        return self._resolve(text, self.input_root, what, "--input-root")

    def output_path(self, text: str, what: str = "output folder") -> Path:
        return self._resolve(text, self.output_root, what, "--output-root")

    def shown(self, path: Any) -> str:
        """A path as the page may show it: relative to its root, led by the root's name."""
        full = Path(os.path.realpath(str(path)))
        for root in (self.output_root, self.input_root):
            if full.is_relative_to(root):
                rel = full.relative_to(root)
                return str(Path(root.name) / rel) if str(rel) != "." else root.name
        return full.name


def check_choices(values: Mapping[str, Any], ctrls: Sequence[Control], providers: Any, where: str) -> None:
    """Every dropdown of `ctrls` with a models/checkpoints list takes only a listed name (or
    none): a typed or forged value (a path, an unknown file) is refused before it is opened."""
    from .components import _choices

    for c in ctrls:
        if not c.meta.dynamic:
            continue
        v = values.get(c.name)
        if not isinstance(v, str) or not v.strip() or forms.is_none_choice(v):
            continue
        if looks_like_path(v):
            raise OptionsError(f"{where}: {c.meta.label.lower()}: choose a name from the list, not a path")
        if not is_listed(v, _choices(c, providers)):
            raise OptionsError(f"{where}: {c.meta.label.lower()}: {v!r} is not in the list")


def check_writable(folder: Path, shown: str) -> None:
    """Create `folder` and prove a file can be written there, so an unwritable output is one
    line naming the folder (by `shown`), not an OS error from inside the job."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".faceswaplab-probe-"):
            pass
    except FileExistsError:
        raise BadInputError(f"the output folder '{shown}' is a file; choose a folder") from None
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise WriteError(f"cannot write to the output folder '{shown}' ({reason.lower()}); choose a writable folder") from None


def folder_label(path: Path, confine: Optional[Confinement]) -> str:
    """How a message names a folder: relative to the roots when confined, else its name."""
    return confine.shown(path) if confine is not None else (path.name or str(path))


__all__ = ["Confinement", "check_choices", "check_writable", "folder_label"]
