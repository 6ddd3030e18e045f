"""A batch's job from the command line (``run`` and each poll of ``watch``): its inputs
matched and checked, its options, its request, all before anything is written."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import time
from pathlib import Path

from pipeline.cli.common import (
    UsageError,
    add_output_flags,
    check_lake_writable,
    check_runner,
    filesystem_options,
    lake_root,
    parse_date,
)

__all__ = [
    "SAMPLE_DROPS",
    "SAMPLE_FEEDS",
    "batch_parser",
    "prepare",
    "run_parser",
    "settled",
]

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"
SAMPLE_DROPS = SAMPLES / "drops"
SAMPLE_FEEDS = SAMPLES / "feeds.txt"
_LOG = logging.getLogger("feedlake")


def batch_parser(prog: str, description: str, epilog: str):
    """The flags ``run`` and ``watch`` share: drops, feeds, the lake and the output."""
    from pipeline.cli.options import DropOptions, FeedOptions, LakeOptions
    from pipeline.cli.usage import CommandParser

    parser = CommandParser(prog=prog, description=description, epilog=epilog)
    DropOptions._add_argparse_args(parser)
    FeedOptions._add_argparse_args(parser)
    LakeOptions._add_argparse_args(parser)
    add_output_flags(parser)
    return parser


def run_parser():
    from pipeline.cli.options import add_run_id

    parser = batch_parser(
        "feedlake run",
        "Read MIL-OSI drops and RSS/Atom feeds, parse, classify and deduplicate "
        "their articles, and write them to a Hive-partitioned Avro lake. With no arguments: "
        "the bundled sample drop and feed into ./lake.",
        "Every other flag is a Beam pipeline option and passes through, e.g. "
        "--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing.",
    )
    add_run_id(parser)
    return parser


def _inputs(
    drops: list[str] | None,
    feeds: str | None,
    lake: str,
    follow_symlinks: bool = False,
    watching: bool = False,
) -> tuple[list[str], list[str], dict]:
    """Drop files, feed URLs, and the files matched but not read (with why); the samples by
    default. A watched folder may be empty; a run's pattern must match something."""
    if not drops and not feeds:
        if not SAMPLE_DROPS.is_dir() or not SAMPLE_FEEDS.is_file():
            raise UsageError(
                "no --drops or --feeds given and the bundled samples are missing (feedlake was "
                "installed without its repository); pass --drops GLOB or --feeds FILE"
            )
        drops, feeds = [str(SAMPLE_DROPS)], str(SAMPLE_FEEDS)
    urls = _listed_feeds(feeds) if feeds else []
    if not drops:
        return [], urls, {}
    from connectors.drop_listing import also_feeds, printable

    listing = _matched_drops(drops, lake, follow_symlinks, watching)
    skipped = {**listing.skipped, **also_feeds(listing.names, urls)}
    names = [name for name in listing.names if name not in skipped]
    if not names and not urls and not watching:
        path, skip = next(iter(skipped.items()))
        raise UsageError(
            f"--drops: every file matched is skipped ({len(skipped)}), e.g. {printable(path)}: "
            f"{skip.message}"
        )
    return names, urls, skipped


def _listed_feeds(path: str) -> list[str]:
    from connectors.feeds import load_feed_list

    try:
        urls = load_feed_list(path)
    except OSError as error:
        raise UsageError(f"--feeds {path!r} cannot be read: {error}") from None
    except ValueError as error:
        raise UsageError(f"--feeds {path!r}: {error}") from None
    if not urls:
        raise UsageError(f"--feeds {path!r} lists no feed; give one URL or path per line, or OPML")
    return urls


def _matched_drops(
    patterns: list[str], lake: str | None, follow_symlinks: bool = False, watching: bool = False
):
    from connectors.drop_listing import list_drops

    listing = list_drops(patterns, lake, follow_symlinks)
    empty = [glob for glob, count in listing.matched.items() if not count]
    if empty and not watching:
        raise UsageError(f"--drops {empty[0]!r} matches no file; check the path or the glob")
    return listing


def _report_skipped(skipped: dict, reported: set | None) -> None:
    """Log each file matched but not read, and why (the lake's own files in one line); a
    watcher says each once."""
    from connectors.drop_listing import printable

    notes = {
        (path, skip.reason): skip for path, skip in skipped.items() if skip.reason != "in_lake"
    }
    if in_lake := [skip for skip in skipped.values() if skip.reason == "in_lake"]:
        notes[(f"{len(in_lake)} file(s)", "in_lake")] = in_lake[0]
    for (what, reason), skip in sorted(notes.items()):
        key = ("", reason) if reason == "in_lake" else (what, reason)
        if reported is not None:
            if key in reported:
                continue
            reported.add(key)
        level = logging.INFO if reason in ("temporary", "also_a_feed") else logging.WARNING
        _LOG.log(level, "skip %s: %s", printable(what), skip.message)


def _report_missing(patterns: list[str], reported: set) -> None:
    """Warn once about each local drop location that does not exist, and again each time it
    vanishes after it appeared: a watcher polls it all the same."""
    for pattern in patterns:
        if "://" in pattern:
            continue
        fixed = re.split(r"[\[*?]", pattern, maxsplit=1)[0]
        place = os.path.abspath(fixed if fixed == pattern else os.path.dirname(fixed) or ".")
        key = (pattern, "missing")
        if os.path.exists(place):
            reported.discard(key)
        elif key not in reported:
            reported.add(key)
            _LOG.warning(
                "--drops %s: %s does not exist; watching for it all the same (check the path)",
                pattern,
                place,
            )


def _fetch_policy(args: argparse.Namespace):
    from connectors.http import FetchPolicy, feedlake_agent
    from pipeline.core.version import __version__

    try:
        return FetchPolicy(
            read_timeout=args.feed_timeout,
            connect_timeout=min(args.feed_timeout, 10.0),
            attempts=args.feed_attempts,
            max_bytes=args.feed_max_bytes,
            min_interval=args.feed_min_interval,
            deadline=args.feed_deadline,
            user_agent=feedlake_agent(__version__),
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


def prepare(
    args: argparse.Namespace,
    beam_args: list[str],
    watching: bool = False,
    reported: set | None = None,
):
    """The run's Job from the command line, checked; usage errors raise UsageError.

    Files matched but not read are logged; with ``reported``, each only once."""
    from connectors.drop_listing import as_glob
    from pipeline.core.records import RunContext
    from pipeline.core.version import __version__
    from pipeline.factory import JobConfig, repeated_inputs
    from pipeline.jobs import Job, new_run_id
    from pipeline.lake.feed_state import load_feed_state
    from pipeline.lake.meta import LayoutMismatch, resolve_layout
    from pipeline.lake.names import run_id_problem
    from pipeline.lake.paths import parse_partition_keys

    # The driver reads and writes the lake too (recovery, manifests, feed state): on an object
    # store it needs the same filesystem options (endpoint, region, credentials) as the workers.
    given = getattr(args, "run_id", None)  # watch names its own runs
    if given is not None and (problem := run_id_problem(given)) is not None:
        raise UsageError(f"--run-id: {problem}")
    options = filesystem_options(beam_args, [args.lake, *(args.drops or [])])
    reference_date = parse_date(args.reference_date, "--reference-date")
    try:
        asked = parse_partition_keys(args.partition_by) if args.partition_by else None
    except ValueError as error:
        raise UsageError(f"--partition-by: {error}") from None
    if not 0 < args.near_threshold <= 1:
        raise UsageError("--near-threshold must be in (0, 1]")
    if args.max_segment_bytes < 1024:
        raise UsageError("--max-segment-bytes must be at least 1024")
    if args.max_drop_bytes < 1:
        raise UsageError("--max-drop-bytes must be positive")
    if args.near_window_days < 0:
        raise UsageError("--near-window-days must be 0 or more")
    if args.dedup_shards < 1:
        raise UsageError("--dedup-shards must be 1 or more")
    check_runner(options)
    lake = lake_root(args.lake)
    check_lake_writable(lake)
    names, feeds, skipped = _inputs(args.drops, args.feeds, lake, args.follow_symlinks, watching)
    _report_skipped(skipped, reported)
    if watching and reported is not None:
        _report_missing(args.drops or [], reported)
    started = dt.datetime.now(dt.timezone.utc)
    run_id = getattr(args, "run_id", None) or new_run_id(started)
    if repeated := repeated_inputs(names, feeds):
        raise UsageError(f"{repeated[0]} is given more than once (as drops or feeds); name it once")
    try:
        partition_by = resolve_layout(lake, asked)
    except LayoutMismatch as mismatch:
        raise UsageError(str(mismatch)) from None
    request = {
        "drops": [as_glob(pattern) for pattern in args.drops or []] or names,
        "feeds": feeds,
        "lake": lake,
        "reference_date": args.reference_date,
        "reprocess": args.reprocess,
        "max_segment_bytes": args.max_segment_bytes,
        "max_drop_bytes": args.max_drop_bytes,
        "codec": args.codec,
        "deflate_level": args.deflate_level,
        "partition_by": list(partition_by),
        "near_threshold": args.near_threshold,
        "near_window_days": args.near_window_days,
    }
    config = JobConfig(
        drops=tuple(names),
        feeds=tuple(feeds),
        feed_validators=load_feed_state(lake),
        fetch_policy=_fetch_policy(args),
        lake=lake,
        run=RunContext(run_id, started.replace(microsecond=0), __version__),
        reference_date=reference_date,
        codec=args.codec,
        deflate_level=args.deflate_level,
        max_segment_bytes=args.max_segment_bytes,
        max_drop_bytes=args.max_drop_bytes,
        partition_by=partition_by,
        near_threshold=args.near_threshold,
        near_window_days=args.near_window_days,
        dedup_shards=args.dedup_shards,
        request=request,
    )
    return Job(config, options, len(names), started)


def settled(job, settling):
    """The job without the drops still being written (see :class:`Settling`)."""
    import dataclasses

    from apache_beam.io.filesystem import BeamIOError

    from connectors.drops import metadata_of

    stamps = {}
    for path in job.config.drops:
        try:
            metadata = metadata_of(path)
        except (OSError, BeamIOError):  # renamed or removed since it was listed
            continue
        stamps[path] = (metadata.size_in_bytes, metadata.last_updated_in_seconds)
    ready = settling.take(stamps, time.time())
    if waiting := sorted(set(stamps) - set(ready)):
        _LOG.debug("waiting for %d drop(s) to settle: %s", len(waiting), ", ".join(waiting))
    config = dataclasses.replace(job.config, drops=tuple(ready))
    return dataclasses.replace(job, config=config, drop_count=len(ready))
