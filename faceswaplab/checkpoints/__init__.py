"""Face checkpoints: one identity saved for reuse in a small `.safetensors` file.

The package, bottom up:

- `container`: the safetensors container, read by our own validating parser (pickles are
  refused, nothing is unpickled);
- `format`: the face layout inside it (decode into an `Identity`, encode back, load a file);
- `library`: the checkpoint folder (safe names, listing, resolving a name, atomic saving);
- `build`: building a checkpoint from photos, with an optional swapped preview. It sits
  above the pipeline, so it is NOT re-exported here: the pipeline loads checkpoints through
  this package, and importing `build` from here would close an import cycle. Import it as
  `faceswaplab.checkpoints.build`.

Comparing two faces and extracting face crops live in `faceswaplab.compare` and
`faceswaplab.extract`. The names below are the format and library API, re-exported so that
`from faceswaplab import checkpoints as ck; ck.load_checkpoint(...)` reads naturally.
"""

from __future__ import annotations

from .container import PICKLE_SUFFIXES, SUFFIX
from .format import (
    BLEND_METHODS,
    EMBEDDING_MODEL,
    FORMAT_NAME,
    FORMAT_VERSION,
    Checkpoint,
    decode_checkpoint,
    encode_checkpoint,
    load_checkpoint,
)
from .library import (
    CheckpointInfo,
    checkpoint_folder,
    checkpoint_info,
    checkpoint_names,
    list_checkpoints,
    load_checkpoint_identity,
    resolve_checkpoint,
    sanitize_name,
    save_checkpoint,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUFFIX",
    "PICKLE_SUFFIXES",
    "EMBEDDING_MODEL",
    "BLEND_METHODS",
    "Checkpoint",
    "CheckpointInfo",
    "sanitize_name",
    "checkpoint_folder",
    "list_checkpoints",
    "checkpoint_names",
    "checkpoint_info",
    "resolve_checkpoint",
    "encode_checkpoint",
    "decode_checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "load_checkpoint_identity",
]
