"""What the connectors hand the pipeline: a drop file's bytes, and a feed's items.

Guarantees: each record keeps what it was read from (the drop's URI and SHA-256, the feed's URL
and the item's bytes as served), so that whatever the pipeline makes of it can say where it
came from, and a reject can keep the bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

__all__ = ["Drop", "FeedItem", "item_identity"]


@dataclasses.dataclass(frozen=True)
class Drop:
    """A drop file as read: its bytes and what the reader learned about it.

    ``reference_date`` is the drop's own date, which gives dateline dates their year;
    ``year_from`` says where it came from (``drop_name``, ``reference_date``, ``file_mtime``).
    """

    uri: str
    data: bytes
    sha256: str
    modified: dt.datetime | None
    reference_date: dt.date | None
    year_from: str | None
    too_large: bool = False  # past --max-drop-bytes: ``data`` is only its first bytes

    @property
    def size(self) -> int:
        return len(self.data)


def item_identity(guid: str | None, link: str | None) -> str | None:
    """What makes a feed item the same item: its guid when it has one, its link only when it
    has none. Items with distinct guids are distinct stories even when they share a link (a
    site that links every item to its home page); None for a drop's article."""
    return guid or link or None


@dataclasses.dataclass(frozen=True)
class FeedItem:
    """One entry of a fetched feed, as feedparser read it, with its bytes.

    ``raw`` is the entry's element exactly as served, ``feed[offset:offset + len(raw)]`` in
    ``encoding``; where the element cannot be located (a feed that is not well-formed XML)
    ``offset`` is None, ``encoding`` is ``json`` and ``raw`` a JSON serialisation of every
    field feedparser read. ``problem`` says why the entry's fields could not be read, if so,
    and ``refusal`` is then the reject's reason (``not_a_feed``: the item is the whole
    document, which is no feed).
    """

    feed_url: str
    feed_sha256: str
    index: int
    title: str
    html: str  # content:encoded or Atom content, else the summary
    link: str | None = None
    guid: str | None = None
    author: str | None = None
    published: dt.date | None = None
    categories: tuple[str, ...] = ()
    channel: str | None = None  # the feed's own title
    raw: bytes = b""
    offset: int | None = None
    encoding: str = "json"
    problem: str | None = None
    refusal: str = "unreadable_item"  # the reject's reason when there is a problem

    @property
    def where(self) -> str:
        """The item, for messages: its feed, its position and its guid or link."""
        at = f" at byte {self.offset}" if self.offset is not None else ""
        named = f" ({self.identity})" if self.identity else ""
        return f"{self.feed_url} item {self.index}{at}{named}"

    @property
    def identity(self) -> str | None:
        """See :func:`item_identity`."""
        return item_identity(self.guid, self.link)
