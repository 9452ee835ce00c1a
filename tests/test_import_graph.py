"""No import cycle anywhere in faceswaplab/, lazy imports inside functions included.

A lazy import only hides a cycle until the day someone moves it to the top of the file (or
two threads import the two ends at once); the layering (core below front ends, checkpoint
format below the pipeline, build above it) is only real if the graph of every import
statement has no cycle. The graph is read from the source with `ast`, so nothing is
imported to build it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = "faceswaplab"
ROOT = Path(__file__).resolve().parents[1] / PKG


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name a (possibly relative) `from ... import` refers to."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]  # a module's relative imports start from its package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _targets(name: str, known: dict[str, Path]) -> set[str]:
    """`name` if it is one of ours, else its closest enclosing module of ours (an import of
    `faceswaplab.x.y` where y is a function counts as importing `faceswaplab.x`)."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in known:
            return {cand}
        parts.pop()
    return set()


def _with_packages(importer: str, targets: set[str], known: dict[str, Path]) -> set[str]:
    """Importing `a.b.c` runs `a/__init__` and `a/b/__init__` first: those count too, except
    the importer's own packages (already running when it is imported)."""
    out = set(targets)
    for t in targets:
        parts = t.split(".")[:-1]
        while parts:
            pkg = ".".join(parts)
            if pkg in known and not (importer == pkg or importer.startswith(pkg + ".")):
                out.add(pkg)
            parts.pop()
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, from every import statement of its source
    (top level, inside functions, under TYPE_CHECKING alike). An import of a package counts as
    importing its __init__; `from pkg import sub` counts as importing the submodule `sub`,
    `from pkg import name` as importing `pkg`; importing a submodule from outside its package counts as importing the package's
    __init__ as well, since Python runs it first."""
    known = _modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for mod, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    graph[mod] |= _targets(alias.name, known)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_package, node.module, node.level)
                if not base.startswith(PKG):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    # a submodule (its package's __init__ is added below), else a name of `base`
                    graph[mod] |= {sub} if sub in known else _targets(base, known)
        graph[mod] = _with_packages(mod, graph[mod], known) - {mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (iterative DFS: white/grey/black)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop(0)
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None


def test_the_graph_reads_lazy_and_relative_imports():
    """The reader itself: a lazy relative import inside a function is an edge."""
    graph = import_graph()
    assert "faceswaplab.checkpoints.format" in graph["faceswaplab.checkpoints.library"]
    assert "faceswaplab.pipeline" in graph["faceswaplab.checkpoints.build"]
    assert "faceswaplab.checkpoints.build" in graph["faceswaplab.ui.tab"]  # imported inside do_build
    assert "faceswaplab.checkpoints" in graph["faceswaplab.pipeline"]  # inside resolve_identity
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_checkpoint_format_and_library_stay_below_the_pipeline():
    """What the pipeline loads checkpoints through must never reach back up to it."""
    graph = import_graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    for low in ("faceswaplab.checkpoints", "faceswaplab.checkpoints.format", "faceswaplab.checkpoints.library"):
        assert "faceswaplab.pipeline" not in reach(low), low
        assert "faceswaplab.checkpoints.build" not in reach(low), low
