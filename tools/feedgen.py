"""Build RSS 2.0 and Atom documents from drop articles (the sample feed and test servers).

MIL-OSI's WordPress feeds carry an article's layout as HTML paragraphs in
``content:encoded``: header lines, disclaimer, dateline, body and footer, without the title
(which is the item's ``<title>``).

    python -m tools.feedgen samples/drops/milosi-2025-08-29.txt --count 3 > samples/feeds/x.rss
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from pipeline.parse.split import split_drop

__all__ = ["atom", "drop_items", "rss"]

SITE = "https://milosi.example"  # a reserved example domain: the sample never points anywhere


def drop_items(drop: bytes, count: int | None = None) -> list[dict]:
    """The drop's articles as feed items: title, slug, and the rest as HTML paragraphs."""
    items = []
    for span in split_drop(drop)[:count]:
        lines = [line.strip() for line in drop[span.offset : span.end].decode().splitlines()]
        lines = [line for line in lines if line and line != "."]
        title, rest = lines[0], lines[1:]
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
        items.append(
            {
                "title": title,
                "link": f"{SITE}/2025/08/29/{slug}/",
                "guid": f"{SITE}/?p={1000 + len(items)}",
                "html": "".join(f"<p>{html.escape(line)}</p>" for line in rest),
            }
        )
    return items


def rss(items: list[dict], title: str = "MIL-OSI sample feed") -> str:
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
        + (f'<guid isPermaLink="false">{escape(i["guid"])}</guid>' if i.get("guid") else "")
        + "<pubDate>Fri, 29 Aug 2025 10:00:00 +0000</pubDate>"
        "<dc:creator>MIL-OSI</dc:creator><category>Asia Pacific</category>"
        f"<content:encoded>{escape(i['html'])}</content:encoded></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>{SITE}/</link>"
        f"<description>Sample</description>{entries}</channel></rss>\n"
    )


def atom(items: list[dict], title: str = "MIL-OSI sample feed") -> str:
    entries = "".join(
        f'<entry><title>{escape(i["title"])}</title><link href="{escape(i["link"])}"/>'
        f"<id>{escape(i['guid'])}</id><updated>2025-08-29T10:00:00Z</updated>"
        "<author><name>MIL-OSI</name></author>"
        f'<content type="html">{escape(i["html"])}</content></entry>'
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>{SITE}/</id>"
        f"<updated>2025-08-29T10:00:00Z</updated>{entries}</feed>\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.feedgen", description=__doc__)
    parser.add_argument("drop", type=Path)
    parser.add_argument("--count", type=int)
    parser.add_argument("--atom", action="store_true")
    args = parser.parse_args(argv)
    items = drop_items(args.drop.read_bytes(), args.count)
    sys.stdout.write(atom(items) if args.atom else rss(items))


if __name__ == "__main__":
    main()
