"""One list of models: the registry (faceswaplab/models/registry.py KNOWN_MODELS) generates the
table in docs/models.md, and docs/install.md names exactly its required files. Rows the registry
gains (new swappers, converters) fail this test until the docs are regenerated with
`python -m tests.test_models_docs --write`."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS_MD = ROOT / "docs" / "models.md"
INSTALL_MD = ROOT / "docs" / "install.md"
BEGIN, END = "<!-- models:begin (generated from the registry) -->", "<!-- models:end -->"


def table() -> str:
    from faceswaplab.models.registry import KNOWN_MODELS

    rows = ["| file | kind | required | sha256 | size (bytes) | licence |", "|---|---|---|---|---|---|"]
    for s in KNOWN_MODELS:
        sha = f"`{s.sha256}`" if s.sha256 else "not published"
        size = str(s.size) if s.size else "-"
        rows.append(f"| `{s.name}` | {s.kind} | {'yes' if s.required else 'no (optional)'} | {sha} | {size} | {s.licence or '-'} |")
    return "\n".join(rows)


def _section(text: str) -> str:
    assert BEGIN in text and END in text, f"docs/models.md lacks the {BEGIN} ... {END} markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def write() -> None:
    text = MODELS_MD.read_text(encoding="utf-8")
    if BEGIN not in text:  # first run: replace the hand-written table
        text = re.sub(r"\| file \| kind \|.*?\n(?=\n)", BEGIN + "\n" + END + "\n", text, count=1, flags=re.S)
    head, rest = text.split(BEGIN, 1)
    MODELS_MD.write_text(head + BEGIN + "\n" + table() + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")


def test_models_md_is_the_registry():
    assert _section(MODELS_MD.read_text(encoding="utf-8")) == table(), "regenerate: python -m tests.test_models_docs --write"


def test_install_md_names_the_required_files():
    from faceswaplab.models.registry import KNOWN_MODELS

    text = INSTALL_MD.read_text(encoding="utf-8")
    needed = text.split("Needed (", 1)[1].split("Optional:", 1)[0]
    named = {n.rsplit("/", 1)[-1] for n in re.findall(r"[\w./-]+\.onnx", needed)}
    required = {s.filename for s in KNOWN_MODELS if s.required}
    assert named == required, f"docs/install.md 'Needed:' names {sorted(named)}; the registry requires {sorted(required)}"


def test_models_command_marks_optional_and_exits_3(tmp_path, models_dir, capfd):
    import shutil

    from faceswaplab.cli import main

    assert main(["models", "--models-dir", str(models_dir)]) == 0
    out = capfd.readouterr()
    listing = out.out + out.err
    assert re.search(r"optional\s+inswapper_128_fp16\.onnx", listing), listing
    assert re.search(r"required\s+inswapper_128\.onnx", listing), listing
    partial = tmp_path / "m"
    shutil.copytree(models_dir, partial)
    (partial / "buffalo_l" / "genderage.onnx").unlink()
    assert main(["models", "--models-dir", str(partial)]) == 3
    out = capfd.readouterr()
    assert "FACESWAPLAB_MODELS" in out.out + out.err


if __name__ == "__main__" and "--write" in sys.argv:
    write()
