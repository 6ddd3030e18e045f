"""What the commands print for people (tables) and for scripts (JSON documents)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "print_compaction",
    "print_inspect_report",
    "print_rows",
    "print_run_summary",
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
    """Rows under their column names, as a table."""
    table = Table(*names, title=title, title_justify="left")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    _console().print(table)


# Per-run details the JSON carries; the runs table would be too wide with them.
_NOT_IN_RUNS_TABLE = ("feeds_by_outcome", "rejects_by_reason")


def print_inspect_report(report: dict[str, Any]) -> None:
    """``feedlake inspect``'s tables: partitions, counts, duplicates, rejects, runs."""
    files = ", ".join(f"{count} {kind}" for kind, count in report["files"].items())
    print(f"lake {report['lake']}: data files: {files}")
    for name, rows in report.items():
        if name in ("lake", "files") or not rows:
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
    return ", ".join(f"{key} ×{count}" for key, count in counter.most_common()) or "-"


def print_validate_report(report) -> None:
    verdict = "clean" if report.clean else "REJECTS"
    print(
        f"{report.uri}: {report.articles} articles, {len(report.rejects)} rejects "
        f"({report.size:,} bytes) {verdict}"
    )
    print(f"  reference date: {report.reference_date or '-'} (from {report.year_from or '-'})")
    print(f"  layouts:        {_counted(report.layouts)}")
    print(f"  languages:      {_counted(report.languages)}")
    print(f"  encodings:      {_counted(report.encodings)}")
    print(f"  segment ends:   {_counted(report.endings)}")
    print(f"  end markers:    {_counted(report.end_markers)}")
    for note in report.rejects:
        print(f"  reject {note.reason} at byte {note.offset} (+{note.length}): {note.message}")
    if not report.explanations:  # --explain lists each article with its evidence below
        for title, variant in zip(report.titles, report.variants, strict=True):
            print(f"  article: {title}")
            print(f"    layout: {variant}")
    explained_variants = zip(report.explanations, report.variants, strict=True)
    for explained, variant in explained_variants if report.explanations else ():
        print(f"  article: {explained.title}")
        print(f"    layout: {variant}; language {explained.language}")
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
        title=f"feedlake run {manifest['run_id']}: {manifest['status']}", title_justify="left"
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
    table.add_row("drops", str(counts["drops"]), drops)
    outcomes = ", ".join(f"{k}: {v}" for k, v in counts["feeds_by_outcome"].items())
    if counts["feeds"]:
        outcomes += f"; {read['feed']:,} bytes read"
    known = sum(i.get("already_in_lake", 0) for i in manifest["inputs"] if i["type"] == "feed")
    if known:
        outcomes += f"; {known} items already in the lake, skipped"
    table.add_row("feeds", str(counts["feeds"]), outcomes)
    table.add_row(
        "segments", str(counts["segments"]), "each ends as an article, a duplicate or a reject"
    )
    table.add_row("articles", str(counts["articles"]), "kept")
    kinds = ", ".join(f"{k}: {v}" for k, v in counts["duplicates_by_kind"].items())
    table.add_row("duplicates", str(counts["duplicates"]), kinds)
    reasons = ", ".join(f"{k}: {v}" for k, v in counts["rejects_by_reason"].items())
    table.add_row("rejects", str(counts["rejects"]), reasons)
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
                f"feed failed: {feed['uri']}: {feed['outcome']}: {feed['message']}", markup=False
            )
        elif feed["type"] == "feed" and feed.get("message"):
            console.print(f"feed note: {feed['uri']}: {feed['message']}", markup=False)
    console.print(f"manifest: {manifest_file}", markup=False)
    console.print(
        f"lake:     {lake}  (articles/, duplicates/, rejects/, _index/, _runs/)", markup=False
    )


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
