"""``feedlake repair``: damaged metadata moved aside, what is lost said, the rest rebuilt.

Under the writer lease: every metadata file no command can use (a manifest, a staging folder,
the feed state, an index or catalog file, ``_lake.json``) is moved to ``_damaged/<stamp>/``,
never deleted; what earlier writers left is then recovered as every writer does, and a
damaged index or catalog is rebuilt from the lake's articles and manifests. ``--dry-run``
says what would be moved and changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging

from pipeline.cli.common import (
    EXIT_LAKE_BUSY,
    check_is_lake,
    configure_logging,
    filesystem_options,
    lake_root,
)
from pipeline.cli.usage import CommandParser

__all__ = ["command_repair", "repair_parser"]

_LOG = logging.getLogger("feedlake")


def repair_parser() -> CommandParser:
    from pipeline.cli.options import add_upkeep_flags

    parser = CommandParser(
        prog="feedlake repair",
        description="Move the lake's damaged metadata (manifests, staging folders, feed "
        "state, index and catalog files, _lake.json that no command can read, or that point "
        "outside the lake) aside into <lake>/_damaged/, say what each was and what is lost, "
        "and rebuild the index and the drop catalog from the lake when they were damaged. "
        "Data files are never moved. Holds the writer lease.",
        epilog="Every other flag is a Beam pipeline option, as for 'feedlake run'.",
    )
    parser.add_argument(
        "--lake", default="lake", help="The lake's root: a local folder, s3:// or gs://."
    )
    add_upkeep_flags(
        parser,
        dry_run="Say what would be moved; change nothing.",
        json="Print what was done as JSON.",
    )
    return parser


def command_repair(argv: list[str]) -> int:
    configure_logging("--quiet" in argv, False)
    args, beam_args = repair_parser().parse_known_args(argv)
    filesystem_options(beam_args, [args.lake])
    lake = lake_root(args.lake)
    check_is_lake(lake)  # a folder that is no lake: nothing is made there

    from pipeline.lake.confine import DamagedLakeFile
    from pipeline.lake.description import read_description
    from pipeline.lake.lease import LeaseError
    from pipeline.lake.quarantine import check_damaged_folder, survey

    with contextlib.suppress(DamagedLakeFile):  # a damaged one is what repair moves aside
        read_description(lake)  # a lake of a newer format is refused before the lease
    check_damaged_folder(lake)  # where repair moves things: never through a link
    if args.dry_run:
        damages = survey(lake)
        _print(lake, {"dry_run": True, "moved_to": None, "damaged": damages}, args)
        return 0
    try:
        done = _repair(lake, args.wait_for_lock)
    except LeaseError as busy:
        _LOG.error("%s", busy)
        return EXIT_LAKE_BUSY
    _print(lake, done, args)
    return 0


def _repair(lake: str, wait: float) -> dict:
    """Under the lease: move aside, recover, rebuild; what was done."""
    from pipeline.lake.commit import recover
    from pipeline.lake.lease import WriterLease
    from pipeline.lake.meta import upgrade
    from pipeline.lake.quarantine import decide_again, links, move_aside, survey
    from pipeline.lake.rebuild import rebuild_catalog, rebuild_index

    now = dt.datetime.now(dt.timezone.utc)
    # Links in the lake's root keep every writer, repair too, from taking the lease (it
    # would write through them): moved aside first, as links; what they point to is not read.
    first = links(lake, root_only=True)
    moved_to = move_aside(lake, first, now) if first else None
    with WriterLease(lake, "repair") as lease:
        lease.acquire(wait)
        damages = survey(lake)
        moved_to = move_aside(lake, damages, now) if damages else moved_to
        decide_again(lake, damages)  # before recovery, which finishes or removes each run
        damages = first + damages
        recovered = recover(lake)
        upgrade(lake, lease)
        rebuilds = {damage.rebuild for damage in damages} - {None}
        rebuilt = {}
        if "index" in rebuilds:
            rebuilt["index"] = rebuild_index(lake, lease)["articles"]
        if "catalog" in rebuilds:
            rebuilt["catalog"] = rebuild_catalog(lake, lease)["drops"]
    return {
        "dry_run": False,
        "moved_to": moved_to,
        "damaged": damages,
        "recovered": [(run.run_id, run.action) for run in recovered],
        "rebuilt": rebuilt,
    }


def _print(lake: str, done: dict, args: argparse.Namespace) -> None:
    import dataclasses

    if args.json:
        damaged = [dataclasses.asdict(damage) for damage in done["damaged"]]
        print(json.dumps({**done, "damaged": damaged}, indent=2, sort_keys=True))
        return
    if args.quiet:
        return
    where = "would move" if done["dry_run"] else f"moved to {done['moved_to']}"
    for damage in done["damaged"]:
        print(f"{damage.relative(lake)} {damage.problem}; {where}; lost: {damage.lost}")
    for run_id, action in done.get("recovered", []):
        print(f"run {run_id}: {action} (left by a writer that stopped)")
    for what, count in done.get("rebuilt", {}).items():
        source = "articles" if what == "index" else "drops"
        print(f"rebuilt the {what} from the lake: {count} {source}")
    if not done["damaged"]:
        print(f"nothing damaged in {lake}")
    elif done["dry_run"]:
        print(f"{len(done['damaged'])} damaged; nothing was moved (--dry-run)")
