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

from pipeline.lake.confine import damaged
from pipeline.lake.documents import create_json_exclusive, read_document
from pipeline.lake.storage import delete_exactly

__all__ = [
    "ABANDONED",
    "COMMITS",
    "COMMITTED",
    "Abandoned",
    "abandon",
    "commit",
    "decide_again",
    "decision_of",
    "decision_path",
    "forget_commit",
    "read_decision",
]

COMMITS = "_commits"
COMMITTED = "committed"
ABANDONED = "abandoned"


class Abandoned(RuntimeError):
    """The run was abandoned by a writer that took the lease over: it cannot commit."""


def decision_path(lake: str, staged: str) -> str:
    """Where the decision on the staged run ``staged`` is."""
    return FileSystems.join(lake, COMMITS, f"{staged}.json")


def _decide(lake: str, staged: str, decision: str, **details: Any) -> bool:
    document = {
        "staging": staged,
        "decision": decision,
        "decided": dt.datetime.now(dt.timezone.utc).isoformat(),
        **details,
    }
    return create_json_exclusive(decision_path(lake, staged), document)


def decision_of(lake: str, staged: str) -> dict[str, Any] | None:
    """The decision on the staged run ``staged`` (``<run>@<generation>``), None if none.

    Raises:
        DamagedLakeFile: the decision's file is not a decision: not a JSON object, neither
            ``committed`` nor ``abandoned``, or committed without a manifest. Never guessed
            at: read as abandoned, a committed run's files would be removed.
    """
    path = decision_path(lake, staged)
    return read_decision(path) if FileSystems.exists(path) else None


def read_decision(path: str) -> dict[str, Any]:
    """The decision in the file ``path``; DamagedLakeFile when it is none."""
    document = read_document(path, "a commit decision")
    decision = document.get("decision")
    if decision not in (COMMITTED, ABANDONED):
        raise damaged(path, f"is not a commit decision (it decides {decision!r})")
    if decision == COMMITTED and not isinstance(document.get("manifest"), dict):
        raise damaged(path, "is not a commit decision (committed, with no manifest)")
    return document


def decide_again(lake: str, staged: str, manifest: dict[str, Any] | None) -> str:
    """Decide the staged run ``staged`` again, once its damaged decision is moved aside:
    committed with ``manifest`` (the one its writer recorded in ``_runs/``), else abandoned,
    so that its writer, if it still runs, can never commit it; what was decided (an existing
    decision, made meanwhile, stands)."""
    decision = COMMITTED if manifest is not None else ABANDONED
    details = {"manifest": manifest} if manifest is not None else {}
    if _decide(lake, staged, decision, **details):
        return decision
    return (decision_of(lake, staged) or {}).get("decision", decision)


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
        f"{found.get('decided', '?')} ({decision_path(lake, staged)}); nothing was committed"
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
    delete_exactly([decision_path(lake, staged)])
