"""What the commands print for people (tables) and for scripts (JSON documents).

Guarantees: every text that comes from the lake, a drop, a feed or the command line is printed
through :mod:`pipeline.cli.terminal`: never read as rich markup, its control characters
shown as escapes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.cli.terminal import inert, plain

__all__ = [
    "files_text",
    "print_compaction",
    "print_inspect_report",
    "print_rows",
    "print_run_summary",
    "print_skipped",
    "print_validate_report",
    "validate_report_json",
]
# Wide enough that rich never cuts a table piped to a file or another program (rich assumes
# 80 columns there); a table is only as wide as its cells need.
_UNCUT = 100_000


def _console() -> Console:
    """rich's console on stdout: the terminal's width, or uncut when stdout is not one."""
    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else _UNCUT)


def _cell(value: Any) -> str:
    """A value as a table shows it: nested values as JSON, NULL as empty."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def print_rows(names: list[str], rows: list[tuple], title: str | None = None) -> None:
    """Rows under their column names, as a table of plain text."""
    table = Table(title=title, title_justify="left")
    for name in names:
        table.add_column(plain(name))
    for row in rows:
        table.add_row(*(plain(_cell(value), keep_newlines=True) for value in row))
    _console().print(table)


def files_text(count: int) -> str:
    """``1 file``, ``2 files``: a count of files as a phrase."""
    return f"{count:,} file" if count == 1 else f"{count:,} files"


def print_skipped(command: str, skipped: list[dict[str, Any]]) -> None:
    """One line on stderr for each folder of the lake a read left out."""
    for folder in skipped:
        print(
            f"feedlake {command}: skipped {inert(folder['folder'])}: not a partition folder "
            f"feedlake writes ({files_text(folder['files'])} not read)",
            file=sys.stderr,
        )


# Per-run details the JSON carries; the runs table would be too wide with them.
_NOT_IN_RUNS_TABLE = ("feeds_by_outcome", "rejects_by_reason")


def print_inspect_report(report: dict[str, Any]) -> None:
    """``feedlake inspect``'s headline (records and files of each kind), then its tables:
    partitions, index, counts, duplicates, rejects, runs."""
    held = ", ".join(
        f"{count:,} {kind} in {files_text(report['files'][kind])}"
        for kind, count in report["records"].items()
    )
    print(f"lake {inert(report['lake'])}: {held}")
    for name, rows in report.items():
        if name in ("lake", "records", "files", "skipped") or not rows:
            continue
        names = [key for key in rows[0] if key not in _NOT_IN_RUNS_TABLE]
        values = [tuple(row[key] for key in names) for row in rows]
        print_rows(names, values, title=name.replace("_", " "))


def validate_report_json(report) -> dict[str, Any]:

    document = {
        field.name: getattr(report, field.name)
        for field in dataclasses.fields(report)
        if field.name not in ("rejects", "explanations")
    }
    document.update(
        clean=report.clean,
        segments=report.segments,
        rejects=[dataclasses.asdict(note) for note in report.rejects],
        explanations=[dataclasses.asdict(e) for e in report.explanations],
        rejects_by_reason=report.rejects_by_reason(),
    )
    return document


def _counted(counter) -> str:
    return ", ".join(f"{inert(key)} ×{count}" for key, count in counter.most_common()) or "-"


def print_validate_report(report) -> None:
    verdict = "clean" if report.clean else "REJECTS"
    print(
        f"{inert(report.uri)}: {report.articles} articles, {len(report.rejects)} rejects "
        f"({report.size:,} bytes) {verdict}"
    )
    print(f"  reference date: {report.reference_date or '-'} (from {report.year_from or '-'})")
    print(f"  layouts:        {_counted(report.layouts)}")
    print(f"  languages:      {_counted(report.languages)}")
    print(f"  encodings:      {_counted(report.encodings)}")
    print(f"  segment ends:   {_counted(report.endings)}")
    print(f"  end markers:    {_counted(report.end_markers)}")
    for note in report.rejects:
        print(
            f"  reject {note.reason} at byte {note.offset} (+{note.length}): {inert(note.message)}"
        )
    if not report.explanations:  # --explain lists each article with its evidence below
        for title, variant in zip(report.titles, report.variants, strict=True):
            print(f"  article: {inert(title)}")
            print(f"    layout: {inert(variant)}")
    explained_variants = zip(report.explanations, report.variants, strict=True)
    for explained, variant in explained_variants if report.explanations else ():
        print(f"  article: {inert(explained.title)}")
        print(f"    layout: {inert(variant)}; language {explained.language}")
        print(
            f"    region: {explained.country or '-'} {explained.region} by {explained.method}"
            f"; mentioned: {', '.join(explained.mentioned) or '-'}"
        )
        topics = ", ".join(f"{label} {score:g}" for _code, label, score in explained.topics)
        if explained.topics_from != "terms":
            topics = f"none read: {explained.topics_from}"
        print(f"    topics: {topics or 'unclassified'}")
        terms = ", ".join(
            f"{term}{' (title)' if in_title else ''} -> {code.removeprefix('medtop:')} {weight:g}"
            for term, code, weight, in_title in explained.terms
        )
        print(f"    terms:  {terms or '-'}")


def print_run_summary(manifest: dict, seconds: float, manifest_file: str) -> None:
    counts = manifest["counts"]
    lake = manifest["lake"]
    table = Table(
        title=plain(f"feedlake run {manifest['run_id']}: {manifest['status']}"),
        title_justify="left",
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail", overflow="fold")
    skipped = len(manifest.get("skipped", []))
    read = {
        kind: sum(i.get("size") or 0 for i in manifest["inputs"] if i["type"] == kind)
        for kind in ("drop", "feed")
    }
    drops = f"{read['drop']:,} bytes read"
    if skipped:
        drops += f"; {skipped} skipped, already ingested"
    table.add_row("drops", str(counts["drops"]), plain(drops))
    outcomes = ", ".join(f"{k}: {v}" for k, v in counts["feeds_by_outcome"].items())
    if counts["feeds"]:
        outcomes += f"; {read['feed']:,} bytes read"
    known = sum(i.get("already_in_lake", 0) for i in manifest["inputs"] if i["type"] == "feed")
    if known:
        outcomes += f"; {known} items already in the lake, skipped"
    table.add_row("feeds", str(counts["feeds"]), plain(outcomes))
    table.add_row(
        "segments", str(counts["segments"]), "each ends as an article, a duplicate or a reject"
    )
    table.add_row("articles", str(counts["articles"]), "kept")
    kinds = ", ".join(f"{k}: {v}" for k, v in counts["duplicates_by_kind"].items())
    table.add_row("duplicates", str(counts["duplicates"]), plain(kinds))
    reasons = ", ".join(f"{k}: {v}" for k, v in counts["rejects_by_reason"].items())
    table.add_row("rejects", str(counts["rejects"]), plain(reasons))
    files = Counter(output["kind"] for output in manifest["outputs"])
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(files.items()))
    table.add_row("files", str(len(manifest["outputs"])), detail)
    table.add_row("time", f"{seconds:.1f} s", "")
    console = _console()
    console.print(table)
    # URLs and servers' messages are text, never rich markup ("http://[/]" would raise).
    for feed in manifest["inputs"]:
        if feed["type"] == "feed" and feed["outcome"] not in ("ok", "not_modified"):
            console.print(
                plain(f"feed failed: {feed['uri']}: {feed['outcome']}: {feed['message']}")
            )
        elif feed["type"] == "feed" and feed.get("message"):
            console.print(plain(f"feed note: {feed['uri']}: {feed['message']}"))
    console.print(plain(f"manifest: {manifest_file}"))
    console.print(plain(f"lake:     {lake}  (articles/, duplicates/, rejects/, _index/, _runs/)"))


def print_compaction(summary: dict[str, Any], dry_run: bool = False) -> None:
    """``feedlake compact``'s summary: folders, files and MB before and after, seconds, and
    the index and catalog files merged."""
    mb = 1_000_000
    index = summary["index_files_before"]
    if not summary["files_before"] and not index:
        print(
            f"nothing to compact: none of the {summary['folders_seen']} data folders has two "
            "files under the target size, and the index and catalog hold one file a folder"
        )
        return
    before = f"{summary['files_before']:,} files ({summary['bytes_before'] / mb:,.1f} MB)"
    indexed = (
        f"; index and catalog: {index:,} files into {summary['index_files_after']:,}"
        if index
        else ""
    )
    if dry_run:
        print(
            f"would compact {summary['folders']:,} of {summary['folders_seen']:,} data folders: "
            f"{before} into {summary['files_after']:,} files{indexed}"
        )
        return
    print(
        f"compacted {summary['folders']:,} of {summary['folders_seen']:,} data folders: "
        f"{before} into {summary['files_after']:,} files ({summary['bytes_after'] / mb:,.1f} "
        f"MB), the swap (new files in, old out) taking {summary['swap_seconds']:.2f} s{indexed}; "
        f"{summary['seconds']:.1f} s in all"
    )
