"""Shared CLI plumbing: the unit, post-processing and engine flags every command uses
(generated from the options' metadata by `flags`), units files, and the error -> exit code
mapping (expected errors: one line on stderr, never a traceback)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInputError, FaceSwapLabError, OptionsError
from ..options import EngineOptions, EnhanceOptions, PostOptions, UnitOptions
from . import flags

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_MODEL, EXIT_NO_FACE, EXIT_BLOCKED = 0, 1, 2, 3, 4, 5
EXIT_WRITE = 6  # could not write the output (disk full, read-only or unwritable destination)

log = logging.getLogger("faceswaplab")


class UsageError(BadInputError):
    pass


class ArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


ENGINE_TITLE = "engine"
UNIT_TITLE = "unit (which identity goes into which faces)"
ENHANCE_TITLE = "enhancement (in aligned space, before the single warp back)"
POST_TITLE = "post-processing (the whole image, after the swap; only when something was swapped)"
SOURCE_FIELDS = ("source_images", "face", "source_face_index")


def add_engine_args(p: argparse.ArgumentParser) -> None:
    flags.add_flags(p, EngineOptions, ENGINE_TITLE)


def engine_options(args: argparse.Namespace) -> EngineOptions:
    return flags.options_from_args(EngineOptions, args)


def add_unit_args(p: argparse.ArgumentParser, with_source: bool = True, exclude: tuple[str, ...] = ()) -> None:
    """The flags of one unit (UnitOptions and EnhanceOptions fields)."""
    flags.add_flags(p, UnitOptions, UNIT_TITLE, exclude=exclude + (() if with_source else SOURCE_FIELDS))
    flags.add_flags(p, EnhanceOptions, ENHANCE_TITLE, exclude=exclude)


def add_post_args(p: argparse.ArgumentParser) -> None:
    flags.add_flags(p, PostOptions, POST_TITLE)


def post_options(args: argparse.Namespace) -> PostOptions:
    return flags.options_from_args(PostOptions, args)


def unit_from_args(args: argparse.Namespace, **overrides: Any) -> UnitOptions:
    data = {**flags.values_from_args(UnitOptions, args), **flags.values_from_args(EnhanceOptions, args), **overrides}
    return UnitOptions.from_dict(data, where="options")


def units_from_args(args: argparse.Namespace) -> list[UnitOptions]:
    """The units of a command: a units file, or one unit from --source/--face and the flags."""
    if getattr(args, "units", None):
        if args.source_images or args.face:
            raise BadInputError("give either --units FILE.json or --source/--face, not both")
        return load_units_file(args.units)
    if not args.source_images and not args.face:
        raise BadInputError("nothing to swap in: give --source IMG (one or more) or --face NAME_OR_PATH")
    return [unit_from_args(args)]


def load_units_file(path: str) -> list[UnitOptions]:
    """A JSON list of units (or {"units": [...]}) with the HTTP API's named fields.

    Relative image paths are taken relative to the units file's folder, so a units file and
    its photos can be moved together.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"units file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"units file {path} is not valid JSON: {e}") from None
    if isinstance(data, dict) and "units" in data:
        data = data["units"]
    if not isinstance(data, list) or not data:
        raise BadInputError(f"units file {path} must hold a non-empty list of units")
    base = p.resolve().parent
    units = []
    for i, item in enumerate(data):
        if isinstance(item, dict):
            item = dict(item)
            for key in ("source_images", "source"):
                if key in item:
                    v = item[key]
                    vs = [v] if isinstance(v, str) else list(v or [])
                    item[key] = [str(base / s) if not Path(s).is_absolute() else s for s in vs]
            for key in ("reference_image",):
                if isinstance(item.get(key), str):
                    item[key] = str(base / item[key])
        units.append(UnitOptions.from_dict(item, where=f"{path}: unit {i + 1}"))
    return units


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (so redirections and test capture work)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(debug: bool) -> None:
    """Warnings from the core (provider fallback, custom model files) go to stderr."""
    logger = logging.getLogger("faceswaplab")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)


class _Collector(logging.Handler):
    """The core's warnings during one command, for the `warnings` of its --json output."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a malformed log call must not break the command
            pass


_collector: _Collector | None = None


def logged_warnings() -> list[str]:
    """What the core logged as warnings so far in this command (custom model files...)."""
    return list(_collector.messages) if _collector is not None else []


def warn(args: argparse.Namespace, text: str) -> None:
    """A `warning:` line on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(f"warning: {text}", file=sys.stderr)


def add_quiet_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no warnings or summary on stderr (errors only)")


def _quiet(on: bool) -> None:
    for h in logging.getLogger("faceswaplab").handlers:
        if isinstance(h, _StderrHandler):
            h.setLevel(logging.ERROR if on else logging.NOTSET)


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """One line on stderr; with --json also `{"error": {...}}` on stdout, so a script that
    reads stdout always gets JSON."""
    print(message, file=sys.stderr)
    if getattr(args, "json", False) and not getattr(args, "json_done", False):
        emit_json({"error": {"message": message.split(": ", 1)[-1] if message.startswith("error: ") else message,
                             "exit_code": code}})  # fmt: skip
    return code


def run_guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command: expected errors -> one line on stderr and their exit code."""
    global _collector
    logger = logging.getLogger("faceswaplab")
    collector = _Collector()
    logger.addHandler(collector)
    _collector = collector
    _quiet(bool(getattr(args, "quiet", False)))
    try:
        return func(args)
    except FaceSwapLabError as e:
        if getattr(args, "debug", False):
            log.exception("details")
        return _fail(args, f"error: {e.message}", e.exit_code)
    except KeyboardInterrupt:
        return _fail(args, "interrupted", 130)
    except Exception as e:  # an internal bug: say so, show the traceback only with --debug
        if getattr(args, "debug", False):
            raise
        return _fail(
            args, f"internal error: {type(e).__name__}: {e} (run again with --debug for details and report it)",
            EXIT_INTERNAL,
        )  # fmt: skip
    finally:
        logger.removeHandler(collector)
        _collector = None
        _quiet(False)


def emit_json(data: Any) -> None:
    sys.__stdout__.write(json.dumps(data, indent=2, default=_json_default) + "\n")
    sys.__stdout__.flush()


def say(text: str) -> None:
    """One line on the real stdout (main() points sys.stdout at stderr while a command runs),
    for the machine-readable result of a command: a similarity, a written path."""
    sys.__stdout__.write(f"{text}\n")
    sys.__stdout__.flush()


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_like_option(cls: type, name: str, value: Any, label: str | None = None) -> Any:
    """Check a command's own flag by the option field it mirrors (extract's --min-face-size
    is the unit's min_face_size), so every front end says the same thing about it."""
    from ..options.meta import coerce, options_of

    for opt in options_of(cls):
        if opt.name == name:
            return coerce(label or name, opt.meta, value)
    raise KeyError(name)


def check_option(cond: bool, message: str) -> None:
    if not cond:
        raise OptionsError(message)
