"""The ``feedlake`` command: ``run`` a batch into the lake, ``validate`` drops, ``inspect``.

Exit codes: 0 done, 1 the run failed, 2 a usage error (the message says what to fix), 3 the
lake is being written by another writer (or its lease file cannot be read).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_DROPS = SAMPLES / "drops"
SAMPLE_FEEDS = SAMPLES / "feeds.txt"
_LOG = logging.getLogger("feedlake")
EXIT_LAKE_BUSY = 3


class UsageError(Exception):
    """The command line asks for something that cannot be done; exit code 2."""


def _configure_logging(
    quiet: bool, verbose: bool, fmt: str = "text", watching: bool = False
) -> None:
    from pipeline.logs import configure

    configure(quiet, verbose, fmt, watching)


def _run_parser() -> argparse.ArgumentParser:
    from pipeline.options import DropOptions, FeedOptions, LakeOptions

    parser = argparse.ArgumentParser(
        prog="feedlake run",
        description="Read MIL-OSI drops and RSS/Atom feeds, parse, classify and deduplicate "
        "their articles, and write them to a Hive-partitioned Avro lake. With no arguments: "
        "the bundled sample drop and feed into ./lake.",
        epilog="Every other flag is a Beam pipeline option and passes through, e.g. "
        "--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing.",
    )
    DropOptions._add_argparse_args(parser)
    FeedOptions._add_argparse_args(parser)
    LakeOptions._add_argparse_args(parser)
    _add_output_flags(parser)
    return parser


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="Print nothing but errors.")
    parser.add_argument("--verbose", action="store_true", help="Show Beam's own log too.")
    parser.add_argument(
        "--json", action="store_true", help="Print the run manifest as JSON on stdout."
    )
    from pipeline.logs import FORMATS

    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default="text",
        help="Log lines on stderr as text, or one JSON object a line (journald, Kubernetes). "
        "Default: %(default)s.",
    )


def _parse_date(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date; write it as YYYY-MM-DD") from None


def _lake_root(lake: str) -> str:
    return lake.rstrip("/") if "://" in lake else str(Path(lake).resolve())


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
    from connectors.drop_listing import also_feeds

    listing = _matched_drops(drops, lake, follow_symlinks, watching)
    skipped = {**listing.skipped, **also_feeds(listing.names, urls)}
    names = [name for name in listing.names if name not in skipped]
    if not names and not urls and not watching:
        path, skip = next(iter(skipped.items()))
        raise UsageError(
            f"--drops: every file matched is skipped ({len(skipped)}), e.g. {path}: {skip.message}"
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
        _LOG.log(level, "skip %s: %s", what, skip.message)


def _fetch_policy(args: argparse.Namespace):
    from connectors.feeds import FetchPolicy

    try:
        return FetchPolicy(
            read_timeout=args.feed_timeout,
            connect_timeout=min(args.feed_timeout, 10.0),
            attempts=args.feed_attempts,
            max_bytes=args.feed_max_bytes,
            min_interval=args.feed_min_interval,
            deadline=args.feed_deadline,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


def _check_beam_args(beam_args: list[str]) -> None:
    from pipeline.options import bad_value, unknown_flags

    if refused := bad_value(beam_args):
        raise UsageError(refused.removeprefix("argument "))
    if unknown := unknown_flags(beam_args):
        flag, close = unknown[0]
        hint = f"did you mean {close}? " if close else ""
        raise UsageError(
            f"unknown option {flag}; {hint}see 'feedlake run --help' for feedlake's options "
            "(Beam's pipeline options pass through)"
        )
    stray = [arg for arg in beam_args if not arg.startswith("-")]
    if stray and not any(arg.startswith("--") for arg in beam_args):
        raise UsageError(f"unexpected argument {stray[0]!r}; drops are given with --drops")


def _check_runner(options) -> None:
    """The runner can be made and accepts the options, checked before anything is written
    (Beam checks the same when the pipeline is built, after the run has opened)."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
    from apache_beam.runners.runner import create_runner

    name = options.view_as(StandardOptions).runner or StandardOptions.DEFAULT_RUNNER
    if not isinstance(name, str):
        return
    try:
        runner = create_runner(name)
    except ValueError:
        known = ", ".join(StandardOptions.KNOWN_RUNNER_NAMES)
        raise UsageError(
            f"--runner {name} is not a Beam runner; use one of {known}, or the full "
            "module path of a PipelineRunner class"
        ) from None
    except ImportError as error:
        raise UsageError(f"--runner {name} cannot be loaded: {error}") from None
    if errors := PipelineOptionsValidator(options, runner).validate():
        problems = "; ".join(error.strip().rstrip(".") for error in errors)
        raise UsageError(f"--runner {name} needs: {problems}")


def _check_lake_writable(lake: str) -> None:
    """A local lake is a folder this process can create or write in; object stores are
    checked by their first write."""
    if "://" in lake:
        return
    existing = Path(lake)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f"--lake {lake}: {existing} is a file, not a folder; give --lake a folder "
            "(it is created when missing)"
        )
    if os.access(existing, os.W_OK | os.X_OK):
        return
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        why = f"{existing} is on a read-only filesystem"
    else:
        why = f"{existing} is not writable by this user"
    raise UsageError(
        f"--lake {lake}: {why}; give --lake a folder on writable storage, or remount or "
        "grant write access to it (inspect reads a read-only lake)"
    )


def _prepare(
    args: argparse.Namespace,
    beam_args: list[str],
    watching: bool = False,
    reported: set | None = None,
):
    """The run's Job from the command line, checked; usage errors raise UsageError.

    Files matched but not read are logged; with ``reported``, each only once."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from connectors.drop_listing import as_glob
    from connectors.feeds import load_feed_state
    from pipeline import __version__
    from pipeline.factory import JobConfig, repeated_inputs
    from pipeline.jobs import Job, new_run_id
    from pipeline.lake import parse_partition_keys
    from pipeline.lake.meta import LayoutMismatch, resolve_layout
    from pipeline.records import RunContext

    _check_beam_args(beam_args)
    reference_date = _parse_date(args.reference_date, "--reference-date")
    try:
        asked = parse_partition_keys(args.partition_by) if args.partition_by else None
    except ValueError as error:
        raise UsageError(f"--partition-by: {error}") from None
    if not 0 < args.near_threshold <= 1:
        raise UsageError("--near-threshold must be in (0, 1]")
    if args.max_segment_bytes < 1024:
        raise UsageError("--max-segment-bytes must be at least 1024")
    if args.near_window_days < 0:
        raise UsageError("--near-window-days must be 0 or more")
    if args.dedup_shards < 1:
        raise UsageError("--dedup-shards must be 1 or more")
    options = PipelineOptions(beam_args)
    _check_runner(options)
    # The driver reads and writes the lake too (recovery, manifests, feed state): on an object
    # store it needs the same filesystem options (endpoint, region, credentials) as the workers.
    FileSystems.set_options(options)
    lake = _lake_root(args.lake)
    _check_lake_writable(lake)
    names, feeds, skipped = _inputs(args.drops, args.feeds, lake, args.follow_symlinks, watching)
    _report_skipped(skipped, reported)
    started = dt.datetime.now(dt.timezone.utc)
    run_id = args.run_id or new_run_id(started)
    if "/" in run_id:
        raise UsageError(f"--run-id {run_id!r} must not contain '/'")
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
        partition_by=partition_by,
        near_threshold=args.near_threshold,
        near_window_days=args.near_window_days,
        dedup_shards=args.dedup_shards,
        request=request,
    )
    return Job(config, options, len(names), started)


def _settled(job, settling):
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


def _command_run(argv: list[str]) -> int:
    # Before Beam is imported: its import logs warnings about optional GCP clients.
    _configure_logging("--quiet" in argv, "--verbose" in argv)
    args, beam_args = _run_parser().parse_known_args(argv)
    _configure_logging(args.quiet, args.verbose, args.log_format)
    job = _prepare(args, beam_args)

    from pipeline.jobs import JobFailed, RunIdTaken, run_batch
    from pipeline.lake.commit import manifest_path
    from pipeline.lake.lease import LeaseError
    from pipeline.output import print_run_summary

    clock = time.monotonic()
    try:
        outcome = run_batch(job, "run", args.wait_for_lock, args.reprocess)
    except RunIdTaken as taken:
        raise UsageError(str(taken)) from None
    except LeaseError as busy:
        _LOG.error("%s", busy)
        return EXIT_LAKE_BUSY
    except JobFailed as failed:
        _LOG.error("%s", failed)
        return 1
    manifest, run_id = outcome.manifest, job.config.run.run_id
    if outcome.status == "already_committed":
        if args.json:
            print(json.dumps(manifest, indent=2, sort_keys=True))
        elif not args.quiet:
            print(
                f"run {run_id} already committed at {manifest['finished']} with the same "
                f"inputs (a retry): nothing to do; manifest: "
                f"{manifest_path(job.config.lake, run_id)}"
            )
        return 0
    if outcome.status == "nothing_new":
        if args.json:
            print(json.dumps({"status": "nothing_new", "skipped": outcome.skipped}, indent=2))
        elif not args.quiet:
            feeds = [i for i in (manifest or {}).get("inputs", []) if i["type"] == "feed"]
            known = sum(feed.get("already_in_lake", 0) for feed in feeds)
            print(
                f"nothing new: {len(outcome.skipped)} drop(s) already ingested, "
                f"{len(feeds)} feed(s) with no new item ({known} items already in the lake); "
                "lake unchanged"
            )
        return 0
    if args.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
    elif not args.quiet:
        path = manifest_path(job.config.lake, run_id)
        print_run_summary(manifest, time.monotonic() - clock, path)
    return 0


def _watch_parser() -> argparse.ArgumentParser:
    parser = _run_parser()
    parser.prog = "feedlake watch"
    parser.description = (
        "Keep the lake current: poll the drop locations and feeds, and run a batch over what "
        "is new. SIGINT or SIGTERM ends it after the batch in hand commits."
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=60.0,
        help="Seconds between polls. Default: %(default)s.",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=10.0,
        help="Take a drop only once its size and modification time have not changed for "
        "this long: a file still being written is read once, whole. Writing under a "
        "temporary name (.*, *.tmp, *.part) and renaming is better still. "
        "Default: %(default)s.",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="Serve Prometheus metrics on /metrics and a liveness check on /healthz at this "
        "port (0: any free port, logged at start). Default: no server.",
    )
    parser.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        metavar="ADDR",
        help="Address the metrics server listens on. Default: %(default)s (all interfaces).",
    )
    return parser


def _command_watch(argv: list[str]) -> int:
    _configure_logging("--quiet" in argv, "--verbose" in argv, watching=True)
    args, beam_args = _watch_parser().parse_known_args(argv)
    _configure_logging(args.quiet, args.verbose, args.log_format, watching=True)
    if args.poll_interval <= 0:
        raise UsageError("--poll-interval must be positive")
    if args.settle_seconds < 0:
        raise UsageError("--settle-seconds must be 0 or more")
    if args.run_id:
        raise UsageError("--run-id names one run; watch makes a run per batch")
    if not args.drops and not args.feeds:
        raise UsageError("watch needs --drops, --feeds or both")
    reported: set[tuple[str, str]] = set()
    first = _prepare(args, beam_args, True, reported)  # usage errors now, not at the first poll
    from connectors.drop_listing import Settling

    settling = Settling(args.settle_seconds)

    import signal
    import threading

    from pipeline.logs import WatchLog
    from pipeline.watch import watch

    observers = []
    metrics_url = None
    if args.metrics_port is not None:
        from pipeline.metrics import WatchMetrics, serve

        metrics = WatchMetrics(args.poll_interval)
        try:
            server = serve(metrics, args.metrics_port, args.metrics_address)
        except OSError as error:
            raise UsageError(
                f"--metrics-port {args.metrics_port}: cannot listen on "
                f"{args.metrics_address}: {error.strerror or error}; choose another port"
            ) from None
        metrics_url = f"http://{args.metrics_address}:{server.server_port}/metrics"
        observers.append(metrics)
    watched = []
    if args.drops:
        watched.append(f"drops {', '.join(args.drops)} ({first.drop_count} files now)")
    if args.feeds:
        watched.append(f"{len(first.config.feeds)} feed(s) of {args.feeds}")
    observers.insert(0, WatchLog(" and ".join(watched), metrics_url))

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def report(manifest: dict) -> None:
        if args.json:
            print(json.dumps(manifest, sort_keys=True), flush=True)

    return watch(
        lambda: _settled(_prepare(args, beam_args, True, reported), settling),
        args.poll_interval,
        stop,
        report,
        observers,
    )


def _validate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def _command_validate(argv: list[str]) -> int:
    _configure_logging(quiet=True, verbose=False)
    args = _validate_parser().parse_args(argv)
    reference_date = _parse_date(args.reference_date, "--reference-date")

    from connectors.drop_listing import list_drops
    from connectors.drops import read_drop
    from pipeline import __version__
    from pipeline.output import print_validate_report, validate_report_json
    from pipeline.records import RunContext
    from pipeline.validate import validate_drop

    listing = list_drops(args.files, follow_symlinks=args.follow_symlinks)
    if empty := [glob for glob, count in listing.matched.items() if not count]:
        raise UsageError(f"{empty[0]!r} matches no file")
    for path, skip in sorted(listing.skipped.items()):
        print(f"feedlake validate: skip {path}: {skip.message}", file=sys.stderr)
    if not listing.names:
        raise UsageError("every file matched is skipped (the reasons are above)")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run = RunContext("validate", now, __version__)
    paths = listing.names
    explainer = None
    if args.explain:
        from pipeline.classify import classifier

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
        _stdout_closed()
    return code


def _inspect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedlake inspect",
        description="What a lake holds: partitions, counts by dt, region and topic, duplicates "
        "by kind, rejects by reason and recent runs, read with DuckDB. With --sql, run a query "
        "over the tables articles, duplicates and rejects instead.",
    )
    parser.add_argument("--lake", default="lake", help="The lake's root folder. Default: ./lake.")
    parser.add_argument("--sql", help="A query over articles, duplicates and rejects.")
    parser.add_argument("--runs", type=int, default=10, help="How many recent runs to list.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of tables.")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="Write the lake in charts to FILE, one page that opens offline: articles per day "
        "by region and topic, duplicates and rejects per run, feed outcomes, files per "
        "partition.",
    )
    return parser


def _command_inspect(argv: list[str]) -> int:
    _configure_logging(quiet=True, verbose=False)
    args = _inspect_parser().parse_args(argv)
    lake = _lake_root(args.lake)
    if "://" in lake:
        raise UsageError("inspect reads a local lake; for object stores use DuckDB's httpfs")
    if not Path(lake).is_dir():
        raise UsageError(f"--lake {lake!r} is not a folder")

    if args.html and args.sql:
        raise UsageError("--html draws the whole lake; it takes no --sql")

    import duckdb

    from pipeline.inspect_lake import inspect_lake, run_sql
    from pipeline.output import print_inspect_report, print_rows

    if args.html:
        from pipeline.report_html import lake_report_html

        page = lake_report_html(inspect_lake(lake, daily=True))
        Path(args.html).write_text(page, encoding="utf-8")
        print(f"wrote {args.html} ({len(page.encode()):,} bytes)")
        return 0
    if args.sql:
        try:
            names, rows = run_sql(lake, args.sql)
        except duckdb.Error as error:
            print(f"feedlake inspect: the query failed: {error}", file=sys.stderr)
            return 1
        if args.json:
            rows_json = [dict(zip(names, row, strict=True)) for row in rows]
            print(json.dumps(rows_json, indent=2, default=str))
            return 0
        print_rows(names, rows)
        return 0
    report = inspect_lake(lake, args.runs)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print_inspect_report(report)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``feedlake`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "run": _command_run,
        "watch": _command_watch,
        "validate": _command_validate,
        "inspect": _command_inspect,
    }
    if argv[:1] == ["--version"]:
        from pipeline import __version__

        print(f"feedlake {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: feedlake {run,watch,validate,inspect} [options] | --version\n"
            "  run       drops and feeds into the lake ('feedlake run --help' for the options)\n"
            "  watch     keep the lake current: a batch whenever a drop or feed is new\n"
            "  validate  parse drops and report what they hold, writing nothing\n"
            "  inspect   what a lake holds, or --sql over it (DuckDB)"
        )
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in commands:
        print(
            f"feedlake: unknown command {command!r}; choose one of: {', '.join(commands)}",
            file=sys.stderr,
        )
        return 2
    try:
        return commands[command](rest)
    except UsageError as error:
        print(f"feedlake {command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _stdout_closed()
        return 0
    except OSError as error:  # the disk, not the code: one line, not a traceback
        print(
            f"feedlake {command}: error: {error}; check that path (free space, permissions, "
            "a file in the way) and run again",
            file=sys.stderr,
        )
        return 1


def _stdout_closed() -> None:
    """The reader of stdout went away (``| head``): what the command did stands. Output from
    now on, Python's flush at exit included, goes nowhere instead of failing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
