"""A page as headless Chromium renders it: the DOM after its scripts ran, offline.

``render(page)`` runs Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it) with every
host name unresolvable, so any fetch from the page fails, and returns ``--dump-dom``'s
serialised DOM; :func:`parse` reads it into :class:`Node` trees to query elements (the SVG
vega draws included) by tag, class and attribute.
"""

from __future__ import annotations

import dataclasses
import subprocess
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
NEEDS_CHROMIUM = (
    "needs Debian's chromium (/usr/bin/chromium; .ci/run installs it): "
    "apt-get install --no-install-recommends chromium"
)
_VOID = {"meta", "link", "br", "img", "input", "hr", "area", "base", "col", "source", "wbr"}


def render(page: Path, profile: Path) -> str:
    """The DOM of ``page`` once its scripts have run (up to 10 s of virtual time)."""
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # any fetch from the page would fail
            "--virtual-time-budget=10000",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


@dataclasses.dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        """Every element below this one (itself included) with that tag, a class among its
        classes, and those attribute values."""
        found = []
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            if (
                (tag is None or node.tag == tag)
                and (cls is None or cls in node.attrs.get("class", "").split())
                and all(node.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            ):
                found.append(node)
            stack.extend(reversed([c for c in node.children if isinstance(c, Node)]))
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(node)
        if tag not in _VOID:
            self.open.append(node)

    def handle_startendtag(self, tag, attrs):
        self.open[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse(dom: str) -> Node:
    builder = _Builder()
    builder.feed(dom)
    return builder.root


def axis_labels(chart: Node) -> dict[str, list[str]]:
    """Each axis of a vega chart by its title, with the labels it shows."""
    found = {}
    for axis in chart.find("g", cls="role-axis"):
        titles = [t.text for t in axis.find("g", cls="role-axis-title")]
        labels = [t.text for g in axis.find("g", cls="role-axis-label") for t in g.find("text")]
        found[titles[0] if titles else ""] = labels
    return found


def legend_labels(chart: Node) -> list[str]:
    return [t.text for g in chart.find("g", cls="role-legend-label") for t in g.find("text")]
