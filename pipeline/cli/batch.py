"""``feedlake run`` (one batch) and ``feedlake watch`` (a batch whenever something is new)."""

from __future__ import annotations

import argparse
import json
import logging
import time

from pipeline.cli.common import EXIT_LAKE_BUSY, UsageError, configure_logging
from pipeline.cli.failures import explain_failure
from pipeline.cli.interrupts import Interrupted, interrupted, stop_now
from pipeline.cli.prepare import batch_parser, prepare, run_parser, settled

__all__ = ["command_run", "command_watch", "watch_parser"]

_LOG = logging.getLogger("feedlake")


def command_run(argv: list[str]) -> int:
    # Before Beam is imported: its import logs warnings about optional GCP clients.
    configure_logging("--quiet" in argv, "--verbose" in argv)
    args, beam_args = run_parser().parse_known_args(argv)
    configure_logging(args.quiet, args.verbose, args.log_format)
    job = prepare(args, beam_args)

    from pipeline.jobs import JobFailed

    clock = time.monotonic()
    try:
        return _run_and_report(job, args, clock)
    except KeyboardInterrupt:
        raise Interrupted(_what_stood(job)) from None
    except JobFailed as failed:
        if interrupted():  # Beam reports the interrupt as the failure of a step
            raise Interrupted(_what_stood(job)) from None
        run_id = job.config.run.run_id
        _LOG.error("%s", explain_failure(failed, job.config.lake, run_id) or failed)
        return 1


def _what_stood(job) -> str:
    """What an interrupt left: the run committed (its manifest says succeeded), or nothing."""
    from pipeline.lake.commit import manifest_path
    from pipeline.lake.documents import read_json

    path = manifest_path(job.config.lake, job.config.run.run_id)
    try:
        committed = read_json(path).get("status") == "succeeded"
    except (OSError, ValueError):
        committed = False
    if committed:
        return f"interrupted after the commit: run {job.config.run.run_id} is in the lake ({path})"
    return (
        "interrupted: nothing was committed; the next run on this lake clears what this one staged"
    )


def _run_and_report(job, args: argparse.Namespace, clock: float) -> int:
    from pipeline.cli.output import print_run_summary
    from pipeline.jobs import RunIdTaken, run_batch
    from pipeline.lake.commit import manifest_path
    from pipeline.lake.lease import LeaseError

    try:
        outcome = run_batch(job, "run", args.wait_for_lock, args.reprocess)
    except RunIdTaken as taken:
        raise UsageError(str(taken)) from None
    except LeaseError as busy:
        _LOG.error("%s", busy)
        return EXIT_LAKE_BUSY
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


def watch_parser() -> argparse.ArgumentParser:
    parser = batch_parser(
        "feedlake watch",
        "Keep the lake current: poll the drop locations and feeds, and run a batch over what "
        "is new. SIGINT or SIGTERM ends it after the batch in hand commits; a second one "
        "ends it at once.",
        "Every other flag is a Beam pipeline option and passes through, as for 'feedlake run'.",
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
        "--compact-every",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="After a batch, compact the lake (as 'feedlake compact' does) when this many "
        "hours have passed since its last compaction; 0: never. Default: %(default)s.",
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


def command_watch(argv: list[str]) -> int:
    configure_logging("--quiet" in argv, "--verbose" in argv, watching=True)
    if any(arg.split("=", 1)[0] == "--run-id" for arg in argv):
        raise UsageError("--run-id names one run ('feedlake run'); watch makes a run per batch")
    args, beam_args = watch_parser().parse_known_args(argv)
    configure_logging(args.quiet, args.verbose, args.log_format, watching=True)
    if args.poll_interval <= 0:
        raise UsageError("--poll-interval must be positive")
    if args.settle_seconds < 0:
        raise UsageError("--settle-seconds must be 0 or more")
    if args.compact_every < 0:
        raise UsageError("--compact-every must be 0 (never) or more hours")
    if not args.drops and not args.feeds:
        raise UsageError("watch needs --drops, --feeds or both")
    reported: set[tuple[str, str]] = set()
    first = prepare(args, beam_args, True, reported)  # usage errors now, not at the first poll
    from connectors.drop_listing import Settling

    settling = Settling(args.settle_seconds)

    import signal
    import threading

    from pipeline.watch.log import WatchLog
    from pipeline.watch.loop import watch

    observers = []
    metrics_url = None
    if args.metrics_port is not None:
        from pipeline.watch.metrics import WatchMetrics, serve

        metrics = WatchMetrics(args.poll_interval)
        try:
            server = serve(metrics, args.metrics_port, args.metrics_address)
        except OSError as error:
            raise UsageError(
                f"--metrics-port {args.metrics_port}: cannot listen on "
                f"{args.metrics_address}: {error.strerror or error}; choose another port"
            ) from None
        host = f"[{args.metrics_address}]" if ":" in args.metrics_address else args.metrics_address
        metrics_url = f"http://{host}:{server.server_port}/metrics"
        observers.append(metrics)
    watched = []
    if args.drops:
        watched.append(f"drops {', '.join(args.drops)} ({first.drop_count} files now)")
    if args.feeds:
        watched.append(f"{len(first.config.feeds)} feed(s) of {args.feeds}")
    log = WatchLog(" and ".join(watched), metrics_url)
    observers.insert(0, log)

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        if stop.is_set():  # the second: stop now; the next start undoes an uncommitted batch
            stop_now(
                "feedlake watch: stopped at once: a batch that had not committed is undone "
                "at the next start"
            )
        stop.set()
        log.stopping(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    def report(manifest: dict) -> None:
        if args.json:
            print(json.dumps(manifest, sort_keys=True), flush=True)

    return watch(
        lambda: settled(prepare(args, beam_args, True, reported), settling),
        args.poll_interval,
        stop,
        report,
        observers,
        args.compact_every,
    )
