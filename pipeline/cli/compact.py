"""``feedlake compact``: merge the lake's small files under the commit protocol."""

from __future__ import annotations

import json
import logging

from pipeline.cli.common import (
    EXIT_LAKE_BUSY,
    UsageError,
    check_is_lake,
    configure_logging,
    filesystem_options,
    lake_root,
    parse_date,
)

__all__ = ["command_compact", "compact_parser"]

_LOG = logging.getLogger("feedlake")


def compact_parser():
    from pipeline.cli.options import add_upkeep_flags
    from pipeline.cli.usage import CommandParser
    from pipeline.lake.compact import DEFAULT_TARGET_MB

    parser = CommandParser(
        prog="feedlake compact",
        description="Merge each partition folder's small files (articles, duplicates, "
        "rejects) into few large ones, committed as one change under the writer lease: "
        "readers see the old files or the new, and a crash leaves one or the other.",
        epilog="Every other flag is a Beam pipeline option, as for 'feedlake run': a lake on "
        "S3 or GCS is reached with the same ones (--s3_endpoint_url, --s3_region_name, ...).",
    )
    parser.add_argument(
        "--lake",
        default="lake",
        help="The lake's root: a local folder, or s3://, gs:// (any Beam filesystem). "
        "Default: ./lake.",
    )
    parser.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        help="Only folders of this dt= or later (folders without dt= are then left alone).",
    )
    parser.add_argument(
        "--until", metavar="YYYY-MM-DD", help="Only folders of this dt= or earlier."
    )
    parser.add_argument(
        "--target-mb",
        type=float,
        default=DEFAULT_TARGET_MB,
        metavar="MB",
        help="Largest merged file; files this large already are left alone. Default: "
        "%(default)s (query engines read files of 128 MB to 1 GB best).",
    )
    add_upkeep_flags(
        parser,
        dry_run="Say what would be merged; change nothing.",
        json="Print the summary as JSON.",
    )
    return parser


def command_compact(argv: list[str]) -> int:
    configure_logging("--quiet" in argv, False)
    args, beam_args = compact_parser().parse_known_args(argv)
    filesystem_options(beam_args, [args.lake])
    since = parse_date(args.since, "--since")
    until = parse_date(args.until, "--until")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    if not args.target_mb > 0:
        raise UsageError("--target-mb must be positive")
    lake = lake_root(args.lake)
    check_is_lake(lake)

    from pipeline.cli.output import print_compaction
    from pipeline.jobs import JobFailed, writing
    from pipeline.lake.compact import CompactionFailed, compact_lake, plan_compaction
    from pipeline.lake.description import read_description
    from pipeline.lake.lease import LeaseError

    read_description(lake)  # a lake of a newer format is refused before anything is written

    if args.dry_run:
        plan = plan_compaction(lake, since, until, int(args.target_mb * 1_000_000))
        if args.json:
            print(json.dumps(plan.summary(), indent=2, sort_keys=True))
        elif not args.quiet:
            print_compaction(plan.summary(), dry_run=True)
        return 0
    try:
        with writing(lake, "compact", args.wait_for_lock) as lease:
            compacted = compact_lake(lake, lease, since, until, args.target_mb)
    except LeaseError as busy:
        _LOG.error("%s", busy)
        return EXIT_LAKE_BUSY
    except (JobFailed, CompactionFailed) as failed:
        _LOG.error("%s", failed)
        return 1
    if args.json:
        print(json.dumps(compacted.summary(), indent=2, sort_keys=True))
    elif not args.quiet:
        print_compaction(compacted.summary())
    return 0
