"""Each feed's conditional-GET validators, kept in the lake: ``<lake>/_state/feeds.json``.

Guarantees: the state is one JSON document written atomically (:mod:`pipeline.lake.documents`),
saved only after a run commits (:mod:`pipeline.lake.commit`), and it keeps the ``etag``,
``last_modified`` and content hash of feeds read or found unchanged: a feed that failed keeps
its earlier validators, so the next fetch asks again from where the lake last was. A state
that is not such a document is :class:`~pipeline.lake.confine.DamagedLakeFile`, never used.
"""

from __future__ import annotations

from apache_beam.io.filesystems import FileSystems

from pipeline.lake.confine import damaged
from pipeline.lake.documents import read_document, write_json

__all__ = ["load_feed_state", "save_feed_state", "state_path"]


def state_path(lake: str) -> str:
    """Where the lake keeps each feed's conditional-GET validators."""
    return FileSystems.join(lake, "_state", "feeds.json")


def load_feed_state(lake: str) -> dict[str, dict[str, str]]:
    """Per feed URL, the ``etag`` and ``last_modified`` of its last successful fetch.

    Raises:
        DamagedLakeFile: the state is not a JSON object of one object per feed.
    """
    path = state_path(lake)
    if not FileSystems.exists(path):
        return {}
    state = read_document(path, "the feeds' conditional-GET state")
    if not all(isinstance(validators, dict) for validators in state.values()):
        raise damaged(path, "is not the feeds' conditional-GET state (a feed's entry is no object)")
    return state


def save_feed_state(lake: str, reports: list[dict]) -> None:
    """Keep the validators (and content hash) of feeds read or found unchanged, atomically."""
    state = load_feed_state(lake)
    for report in reports:
        if report["outcome"] not in ("ok", "not_modified"):
            continue
        previous = state.get(report["uri"], {})
        state[report["uri"]] = {
            "etag": report.get("etag") or previous.get("etag"),
            "last_modified": report.get("last_modified") or previous.get("last_modified"),
            "sha256": report.get("sha256") or previous.get("sha256"),
            "outcome": report["outcome"],
        }
    write_json(state_path(lake), state)
