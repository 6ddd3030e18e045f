"""Names feedlake makes paths of: one safe form, checked before anything is written.

Guarantees: a run id (given with ``--run-id`` or made by feedlake) is used in a path only
when it has the safe form :data:`RUN_ID_FORM`: 1 to 128 characters, letters, digits, ``.``,
``_`` and ``-``, starting with a letter or a digit. So it is never ``.``, ``..``, empty, a
hidden name, nor a name holding ``/``, a pattern character (``*``, ``?``, ``[``), ``@``
(which separates a run id from its lease generation in a staging folder's name), a space or
a control character. Partition values are not names of this kind: they come from controlled
vocabularies and dates (:mod:`pipeline.lake.paths`), never from input text, and so do every
other folder name of the lake; the partition keys, read from ``--partition-by`` or from the
lake's ``_lake.json``, are taken only among :data:`PARTITION_KEYS`, each once
(:func:`partition_keys_problem`).

A staging folder's name is ``<run id>@<lease generation>`` (:func:`staging_name`):
:func:`parse_staging_name` reads one back, and refuses anything feedlake could not have made.
"""

from __future__ import annotations

import re

__all__ = [
    "PARTITION_KEYS",
    "RUN_ID_FORM",
    "RUN_ID_MAX",
    "is_run_id",
    "parse_staging_name",
    "partition_keys_problem",
    "run_id_problem",
    "staging_name",
]

PARTITION_KEYS = ("dt", "region", "topic")  # the article partition keys, in their default order
RUN_ID_MAX = 128
RUN_ID_FORM = (
    f"1 to {RUN_ID_MAX} letters, digits, '.', '_' and '-', starting with a letter or a digit"
)
_RUN_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{RUN_ID_MAX - 1}}}")
_GENERATION = re.compile(r"[0-9]{1,18}")


def is_run_id(text: str) -> bool:
    """Whether ``text`` has the safe form of a run id (:data:`RUN_ID_FORM`)."""
    return _RUN_ID.fullmatch(text) is not None


def run_id_problem(text: str) -> str | None:
    """Why ``text`` cannot be a run id, for a person; None when it can."""
    if is_run_id(text):
        return None
    return f"{text!r} is not a run id: a run id is {RUN_ID_FORM}"


def staging_name(run_id: str, generation: int) -> str:
    """The name of the staging folder of run ``run_id`` made under lease ``generation``.

    Raises:
        ValueError: ``run_id`` is not a run id, or ``generation`` is negative.
    """
    if (problem := run_id_problem(run_id)) is not None:
        raise ValueError(problem)
    if generation < 0:
        raise ValueError(f"a lease generation is 0 or more, not {generation}")
    return f"{run_id}@{generation}"


def parse_staging_name(name: str) -> tuple[str, int] | None:
    """The run id and lease generation a staging folder's name holds; None when it is not a
    name :func:`staging_name` makes."""
    run_id, at, generation = name.rpartition("@")
    if not at or not is_run_id(run_id) or not _GENERATION.fullmatch(generation):
        return None
    return run_id, int(generation)


def partition_keys_problem(keys: object, given: object = None) -> str | None:
    """Why ``keys`` are no article layout (known keys, each once, at least one), or None;
    the message shows ``given`` (what they were read from) when there is one."""
    known = isinstance(keys, (list, tuple)) and all(key in PARTITION_KEYS for key in keys)
    if known and keys and len(set(keys)) == len(keys):
        return None
    shown = keys if given is None else given
    return f"partition keys must be some of {', '.join(PARTITION_KEYS)}, each once; got {shown!r}"
