"""Fencing: each staged run is decided once, committed by its writer or abandoned by the next.

Guarantees: a run made under lease generation ``g`` stages in ``_staging/<run>@<g>/`` and is
decided by creating ``_commits/<run>@<g>.json`` with an exclusive create (local disk: a hard
link, refused when the name exists; S3: ``If-None-Match: *``; GCS: ``ifGenerationMatch=0``).
Its writer creates it holding ``committed`` and the run's manifest: that is the commit point.
A writer that finds the run in staging under a later lease creates it holding
``abandoned`` before it removes anything. Of the two creates exactly one succeeds, whatever
the clocks and however long either writer was paused, so a writer that lost its lease
either committed before the next one looked (and the next one finishes its run) or finds
its run abandoned and commits nothing (:class:`Abandoned`). An ``abandoned`` decision is
kept for ever, since the writer it fences may still be paused; a ``committed`` one is
deleted once its run is finished and its staging folder gone, when nothing reads it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.lake.documents import create_json_exclusive, read_document
from pipeline.lake.storage import delete_exactly

__all__ = [
    "ABANDONED",
    "COMMITS",
    "COMMITTED",
    "Abandoned",
    "abandon",
    "commit",
    "decision_of",
    "forget_commit",
]

COMMITS = "_commits"
COMMITTED = "committed"
ABANDONED = "abandoned"


class Abandoned(RuntimeError):
    """The run was abandoned by a writer that took the lease over: it cannot commit."""


def _decision_path(lake: str, staged: str) -> str:
    return FileSystems.join(lake, COMMITS, f"{staged}.json")


def _decide(lake: str, staged: str, decision: str, **details: Any) -> bool:
    document = {
        "staging": staged,
        "decision": decision,
        "decided": dt.datetime.now(dt.timezone.utc).isoformat(),
        **details,
    }
    return create_json_exclusive(_decision_path(lake, staged), document)


def decision_of(lake: str, staged: str) -> dict[str, Any] | None:
    """The decision on the staged run ``staged`` (``<run>@<generation>``), None if none.

    Raises:
        DamagedLakeFile: the decision's file is not a JSON object.
    """
    path = _decision_path(lake, staged)
    return read_document(path, "a commit decision") if FileSystems.exists(path) else None


def commit(lake: str, staged: str, manifest: dict[str, Any]) -> None:
    """Commit the staged run ``staged`` with ``manifest``: the commit point.

    Raises:
        Abandoned: a writer holding a later lease abandoned the run first.
        OSError: the decision could not be written (nothing is committed unless a later
            :func:`decision_of` says so).
    """
    if _decide(lake, staged, COMMITTED, manifest=manifest):
        return
    found = decision_of(lake, staged) or {}
    raise Abandoned(
        f"a writer that took the lease over abandoned run {staged} at "
        f"{found.get('decided', '?')} ({_decision_path(lake, staged)}); nothing was committed"
    )


def abandon(lake: str, staged: str) -> dict[str, Any] | None:
    """Abandon the staged run ``staged`` unless it is decided already: None when this call
    abandoned it (its writer can no longer commit), else the decision found (a committed
    decision deleted meanwhile is one whose run is finished: it has no manifest then)."""
    if _decide(lake, staged, ABANDONED):
        return None
    return decision_of(lake, staged) or {"staging": staged, "decision": COMMITTED}


def forget_commit(lake: str, staged: str) -> None:
    """Delete the decision of a committed run whose staging folder is gone."""
    delete_exactly([_decision_path(lake, staged)])
