"""Small JSON documents in the lake (manifests, run markers, feed state), written atomically.

A document is written to a hidden ``.<name>.partial`` beside its place, then renamed into it,
so a reader sees the old document or the new one, never half of one.
"""

from __future__ import annotations

import json
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

__all__ = ["make_folder", "read_json", "write_json"]


def make_folder(folder: str) -> None:
    """Create ``folder`` unless it exists; another worker creating it at the same time is fine."""
    if FileSystems.exists(folder):
        return
    try:
        FileSystems.mkdirs(folder)
    except OSError:  # Beam's local mkdirs raises a plain IOError; other file systems BeamIOError
        if not FileSystems.exists(folder):  # not a race with another worker: a real failure
            raise


def read_json(path: str) -> Any:
    """The document at ``path`` (any Beam filesystem)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return json.loads(fh.read().decode("utf-8"))


def write_json(path: str, document: Any) -> None:
    """Write ``document`` to ``path`` atomically, creating its folder where folders exist."""
    folder, name = path.rsplit("/", 1)
    make_folder(folder)
    partial = FileSystems.join(folder, f".{name}.partial")
    with FileSystems.create(partial, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        fh.write(json.dumps(document, indent=2, sort_keys=True).encode("utf-8"))
    FileSystems.rename([partial], [path])
