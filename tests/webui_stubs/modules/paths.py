"""Stand-in for modules/paths.py + modules/paths_internal.py (v1.10.1): `models_path`,
`script_path`, `data_path`, `extensions_dir` (paths_internal.py defines them; paths.py
re-exports them). Tests point them at a temporary folder with `configure`."""
import os

script_path = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
data_path = script_path
models_path = os.path.join(data_path, "models")
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")


def configure(root):
    global data_path, models_path, extensions_dir
    data_path = str(root)
    models_path = os.path.join(data_path, "models")
    extensions_dir = os.path.join(data_path, "extensions")
