"""The lake's Avro schemas: the one source of every record's shape.

Each ``<namespace>.<Name>.avsc`` file holds one named type; records refer to the others by
name and :func:`load` resolves them (fastavro looks for ``<fullname>.avsc`` beside the file).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import fastavro.schema

__all__ = ["SCHEMA_DIR", "expanded", "load", "raw", "version"]

SCHEMA_DIR = Path(__file__).resolve().parent


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The parsed schema of ``feedlake.<name>`` with every named type it uses expanded.

    Args:
        name: the record's name, e.g. ``"Article"``.
    """
    return fastavro.schema.load_schema(str(SCHEMA_DIR / f"feedlake.{name}.avsc"))


@functools.cache
def expanded(name: str) -> dict[str, Any]:
    """:func:`load`'s schema with every named type written out in full wherever it is used
    (what ``pipeline.core.avro_binary`` compiles encoders from)."""
    return fastavro.schema.expand_schema(load(name))


def raw(name: str) -> dict[str, Any]:
    """The schema of ``feedlake.<name>`` as its ``.avsc`` file holds it (names unexpanded)."""
    return json.loads((SCHEMA_DIR / f"feedlake.{name}.avsc").read_text(encoding="utf-8"))


@functools.cache
def version(name: str) -> int:
    """The ``version`` attribute a top-level record schema carries."""
    return int(raw(name)["version"])
