"""The commands that read and write nothing: ``feedlake validate`` and ``feedlake inspect``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from pipeline.cli.common import (
    UsageError,
    configure_logging,
    filesystem_options,
    lake_root,
    parse_date,
    stdout_closed,
)
from pipeline.cli.terminal import inert
from pipeline.cli.usage import CommandParser

__all__ = ["command_inspect", "command_validate", "inspect_parser", "validate_parser"]


def validate_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="feedlake validate",
        description="Split and parse drop files as 'feedlake run' would and report what they "
        "hold, writing nothing. Exit 0 when every file parsed cleanly, 1 when any segment "
        "would be rejected.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="Drop files, paths or globs.")
    parser.add_argument(
        "--reference-date",
        metavar="YYYY-MM-DD",
        help="Date giving dateline dates their year when a file name holds no date.",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="Read a link a folder or glob matched even when it leads out of that folder.",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="Also classify each article and show the evidence: region method, countries "
        "mentioned, topics with scores, and the matched terms.",
    )
    parser.add_argument("--json", action="store_true", help="Print the reports as JSON.")
    return parser


def command_validate(argv: list[str]) -> int:
    configure_logging(quiet=True, verbose=False)
    args = validate_parser().parse_args(argv)
    reference_date = parse_date(args.reference_date, "--reference-date")

    from connectors.drop_listing import list_drops
    from connectors.drops import read_drop
    from pipeline.cli.output import print_validate_report, validate_report_json
    from pipeline.core.records import RunContext
    from pipeline.core.version import __version__
    from pipeline.validate import validate_drop

    listing = list_drops(args.files, follow_symlinks=args.follow_symlinks)
    if empty := [glob for glob, count in listing.matched.items() if not count]:
        raise UsageError(f"{empty[0]!r} matches no file")
    for path, skip in sorted(listing.skipped.items()):
        print(f"feedlake validate: skip {inert(path)}: {inert(skip.message)}", file=sys.stderr)
    if not listing.names:
        raise UsageError("every file matched is skipped (the reasons are above)")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run = RunContext("validate", now, __version__)
    paths = listing.names
    explainer = None
    if args.explain:
        from pipeline.classify.classifier import classifier

        explainer = classifier()
    reports = [
        validate_drop(read_drop(path, reference_date), run, classifier=explainer) for path in paths
    ]
    code = 0 if all(report.clean for report in reports) else 1
    try:
        if args.json:
            print(json.dumps([validate_report_json(r) for r in reports], indent=2, sort_keys=True))
        else:
            for report in reports:
                print_validate_report(report)
    except BrokenPipeError:  # the verdict stands when the reader stops early
        stdout_closed()
    return code


def inspect_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="feedlake inspect",
        description="What a lake holds: partitions, counts by dt, region and topic, duplicates "
        "by kind, rejects by reason and recent runs, read with DuckDB. With --sql, run a query "
        "over the tables articles, duplicates and rejects instead.",
        epilog="Every other flag is a Beam pipeline option, as for 'feedlake run': a lake on "
        "S3 or GCS is read with the same ones (--s3_endpoint_url, --s3_region_name, ...).",
    )
    parser.add_argument(
        "--lake",
        default="lake",
        help="The lake's root: a local folder, s3:// or gs://. Default: ./lake.",
    )
    parser.add_argument("--sql", help="A query over articles, duplicates and rejects.")
    parser.add_argument(
        "--runs",
        default="10",
        metavar="N",
        help="How many recent runs to list (0: none). Default: %(default)s.",
    )
    parser.add_argument("--json", action="store_true", help="Print JSON instead of tables.")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="Write the lake in charts to FILE, one page that opens offline: articles per day "
        "by region and topic, duplicates and rejects per run, feed outcomes, files per "
        "partition.",
    )
    return parser


def _run_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise UsageError(f"--runs {text!r}: give how many recent runs to list, 0 or more")
    return int(text)


def command_inspect(argv: list[str]) -> int:
    configure_logging(quiet=True, verbose=False)
    args, beam_args = inspect_parser().parse_known_args(argv)
    recent = _run_count(args.runs)
    filesystem_options(beam_args, [args.lake])
    lake = lake_root(args.lake)
    if "://" in lake and lake.split("://", 1)[0] not in ("s3", "gs"):
        raise UsageError(f"--lake {lake!r}: inspect reads lakes on local disk, s3:// and gs://")
    if "://" not in lake and not Path(lake).is_dir():
        raise UsageError(f"--lake {lake!r} is not a folder")

    if args.html and args.sql:
        raise UsageError("--html draws the whole lake; it takes no --sql")

    from pipeline.lake.listing import LakeKeptChanging

    try:
        return _inspect(lake, args, recent)
    except LakeKeptChanging as error:
        print(f"feedlake inspect: error: {inert(error)}", file=sys.stderr)
        return 1


def _inspect(lake: str, args: argparse.Namespace, recent: int) -> int:
    import duckdb

    from pipeline.cli.output import print_inspect_report, print_rows, print_skipped
    from pipeline.lake.inspect import inspect_lake, run_sql

    if args.html:
        from pipeline.cli.report_html import lake_report_html

        report = inspect_lake(lake, daily=True)
        print_skipped("inspect", report["skipped"])
        page = lake_report_html(report)
        Path(args.html).write_text(page, encoding="utf-8")
        print(f"wrote {inert(args.html)} ({len(page.encode()):,} bytes)")
        return 0
    if args.sql:
        try:
            names, rows, skipped = run_sql(lake, args.sql)
        except duckdb.Error as error:
            print(f"feedlake inspect: the query failed: {inert(error)}", file=sys.stderr)
            return 1
        print_skipped("inspect", skipped)
        if args.json:
            rows_json = [dict(zip(names, row, strict=True)) for row in rows]
            print(json.dumps(rows_json, indent=2, default=str))
            return 0
        print_rows(names, rows)
        return 0
    report = inspect_lake(lake, recent)
    print_skipped("inspect", report["skipped"])
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print_inspect_report(report)
    return 0
