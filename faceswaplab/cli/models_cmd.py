"""`python -m faceswaplab models [download]`: what model files there are, and fetching them."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..models.store import ModelStore, resolve_models_dir
from . import common
from ..models.registry import spec_for, swapper_kind


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list model files and their status, or download missing ones")
    p.add_argument("action", nargs="?", choices=("list", "download"), default="list")
    p.add_argument("names", nargs="*", metavar="NAME", help="with download: only these files (default: every missing one)")
    p.add_argument("--models-dir", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = ModelStore(resolve_models_dir(args.models_dir))
    if args.action == "download":
        from ..models.download import download_missing

        results = download_missing(store, args.names or None, progress=not args.json)
        if args.json:
            common.emit_json([dataclasses.asdict(r) for r in results])
        else:
            for r in results:
                print(_fmt_result(r), file=sys.stderr)
        failed = [r for r in results if not r.ok]
        return common.EXIT_MODEL if failed else common.EXIT_OK
    statuses = store.statuses()
    if args.json:
        common.emit_json({"models_dir": str(store.models_dir), "models": [s.to_dict() for s in statuses]})
        return common.EXIT_MODEL if any(s.state == "missing" and s.required for s in statuses) else common.EXIT_OK
    common.say(f"models directory: {store.models_dir}")
    width = max((len(s.name) for s in statuses), default=10)
    for s in statuses:
        need = "required" if s.required else "optional"
        line = f"  {s.state:<9} {need:<8} {s.name:<{width}}  {s.path}"
        if s.reason and s.state != "verified":
            line += f"  ({s.reason})"
        spec = spec_for(s.name)
        if spec is not None and spec.licence:
            line += f"  [licence: {spec.licence}]"
        common.say(line)
    common.say("swappers usable now: " + (", ".join(usable_swappers(statuses)) or "none"))
    missing = [s for s in statuses if s.state == "missing" and s.required]
    if missing:
        common.say("fetch missing files with: python -m faceswaplab models download" + _dir_flag(args))
        common.say("or point at files you already have: --models-dir DIR or FACESWAPLAB_MODELS=DIR")
    # scripts check the exit code: 3 (a model is missing) while a required file is absent
    return common.EXIT_MODEL if missing else common.EXIT_OK


def usable_swappers(statuses: list) -> list[str]:
    """Swapper files present whose converter (if their kind needs one) is present too."""
    present = {s.name for s in statuses if s.state != "missing"}
    out = []
    for s in statuses:
        spec = spec_for(s.name)
        if s.name not in present or spec is None or spec.kind != "swapper" or not spec.swapper_kind:
            continue
        kind = swapper_kind(spec.swapper_kind)
        if kind is not None and kind.source.converter and kind.source.converter not in present:
            continue
        out.append(s.name)
    return out


def _dir_flag(args: argparse.Namespace) -> str:
    return f" --models-dir {args.models_dir}" if args.models_dir else ""


def _fmt_result(r: object) -> str:
    d = dataclasses.asdict(r)  # type: ignore[call-overload]
    state = "ok" if d.get("ok") else "FAILED"
    extra = d.get("message") or ""
    return f"{state:<6} {d.get('name')}  {extra}".rstrip()
