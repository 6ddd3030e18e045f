"""feedlake's pipeline options, one class per concern; Beam's own flags pass through."""

from __future__ import annotations

import contextlib
import difflib

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from connectors.drops import DEFAULT_MAX_DROP_BYTES
from pipeline.dedup.decide import DEFAULT_THRESHOLD
from pipeline.lake.files import CODECS, DEFLATE_LEVEL
from pipeline.lake.history import NEAR_WINDOW_DAYS
from pipeline.lake.paths import PARTITION_KEYS
from pipeline.parse.split import DEFAULT_MAX_SEGMENT_BYTES

__all__ = [
    "DropOptions",
    "FeedOptions",
    "LakeOptions",
    "add_run_id",
    "add_upkeep_flags",
    "add_wait_for_lock",
    "bad_value",
    "beam_flags",
    "load_runner_options",
    "unknown_flags",
]


class DropOptions(PipelineOptions):
    """Where drops are and how to read them."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--drops",
            action="append",
            metavar="GLOB",
            help="Drop files to read: a path, a glob or a folder, local or any Beam filesystem "
            "(gs://, s3://). Repeat for several. Default with no --feeds either: the bundled "
            "sample drop.",
        )
        parser.add_argument(
            "--reference-date",
            metavar="YYYY-MM-DD",
            help='Date that gives dateline dates ("Aug. 29") their year when a drop\'s file '
            "name holds no date. Default: the file's modification time.",
        )
        parser.add_argument(
            "--follow-symlinks",
            action="store_true",
            help="Read a symbolic link a folder or glob matched even when it leads out of "
            "that folder (such links are skipped, and said so, by default). Nothing under the "
            "lake is ever read as a drop.",
        )
        parser.add_argument(
            "--reprocess",
            action="store_true",
            help="Read drops again even when a committed run already read the same bytes "
            "(by SHA-256); by default they are skipped.",
        )
        parser.add_argument(
            "--max-drop-bytes",
            type=int,
            default=DEFAULT_MAX_DROP_BYTES,
            metavar="BYTES",
            help="Largest drop, counted once inflated (.gz, .bz2, .xz, .zst...); a drop holding "
            "more is not read but rejected (drop_too_large), its first 64 KiB kept, so that a "
            "small file inflating to gigabytes cannot fill memory. Default: %(default)s "
            "(128 MiB).",
        )
        parser.add_argument(
            "--max-segment-bytes",
            type=int,
            default=DEFAULT_MAX_SEGMENT_BYTES,
            help="Longest article segment; longer runs of text are rejected in pieces of this "
            "size. Default: %(default)s.",
        )


class FeedOptions(PipelineOptions):
    """Which feeds to read and how politely."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--feeds",
            metavar="FILE",
            help="RSS/Atom feeds to read: an OPML file, or a text file with one URL or path "
            "per line. Default with no --drops either: the bundled sample feed.",
        )
        parser.add_argument(
            "--feed-timeout",
            type=float,
            default=20.0,
            help="Seconds to wait for a feed server to answer. Default: %(default)s.",
        )
        parser.add_argument(
            "--feed-deadline",
            type=float,
            default=120.0,
            help="Seconds one feed may take in all, attempts and waits included; a server "
            "still sending then (one that drips its answer a byte at a time) is cut off and the "
            "feed's outcome is timeout. Default: %(default)s.",
        )
        parser.add_argument(
            "--feed-attempts",
            type=int,
            default=4,
            help="Attempts per feed on connection errors, 429 and 5xx (exponential backoff with "
            "jitter, Retry-After honoured). Default: %(default)s.",
        )
        parser.add_argument(
            "--feed-max-bytes",
            type=int,
            default=20 * 1024 * 1024,
            help="Largest feed read, counted once inflated (a gzip Content-Encoding, a local "
            "file); a longer one is abandoned, outcome too_large. Default: %(default)s.",
        )
        parser.add_argument(
            "--feed-min-interval",
            type=float,
            default=1.0,
            help="Seconds between two requests to the same host. Default: %(default)s.",
        )


class LakeOptions(PipelineOptions):
    """Where the lake is and how its files are written."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--lake",
            default="lake",
            help="Root of the lake: a local folder or a Beam filesystem URI. Default: ./lake.",
        )
        parser.add_argument(
            "--codec",
            choices=CODECS,
            default="deflate",
            help="Avro codec of the data files (DuckDB reads only these). Default: deflate.",
        )
        parser.add_argument(
            "--deflate-level",
            type=int,
            choices=range(1, 10),
            default=DEFLATE_LEVEL,
            metavar="1-9",
            help="Deflate level: 1 is fastest, 9 smallest (files about 10%% smaller than at "
            "1, written about half as fast at 6). Default: %(default)s.",
        )
        parser.add_argument(
            "--partition-by",
            metavar="KEYS",
            help="Article partition folders, in order: some of dt, region, topic, comma "
            f"separated. Default: the lake's own layout; {','.join(PARTITION_KEYS)} for a new "
            "lake. A lake keeps its layout: other keys are refused.",
        )
        parser.add_argument(
            "--near-threshold",
            type=float,
            default=DEFAULT_THRESHOLD,
            help="Estimated Jaccard similarity of word 5-shingles at which two articles are "
            "near duplicates. Default: %(default)s.",
        )
        parser.add_argument(
            "--near-window-days",
            type=int,
            default=NEAR_WINDOW_DAYS,
            metavar="DAYS",
            help="Near copies are looked for among the lake's articles published at most this "
            "many days before or after the run's own (exact copies and feed items: the whole "
            "history, whatever the window). Default: %(default)s.",
        )
        parser.add_argument(
            "--dedup-shards",
            type=int,
            default=1,
            metavar="N",
            help="Split the duplicate decision across workers in N shards by key (band key, "
            "content id, feed item), for runs too large for one worker's memory; the result "
            "is the same. 1 decides in one step, the fastest on one machine. Default: "
            "%(default)s.",
        )
        add_wait_for_lock(parser)


def add_run_id(parser) -> None:
    """``--run-id``, of ``feedlake run`` only (a watcher makes a run per batch)."""
    parser.add_argument(
        "--run-id",
        help="Name of this run (files and manifest carry it), unique for ever: a run id a "
        "committed run has is refused, unless the same request is retried (then nothing "
        "is done). Default: the start time in UTC and a random suffix.",
    )


def add_wait_for_lock(parser) -> None:
    """``--wait-for-lock``, of every command that writes the lake."""
    parser.add_argument(
        "--wait-for-lock",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="When another feedlake process is writing the lake, wait up to this long for "
        "it to finish instead of exiting with code 3. Default: %(default)s.",
    )


def add_upkeep_flags(parser, dry_run: str, json: str) -> None:
    """``--dry-run``, ``--wait-for-lock``, ``--quiet`` and ``--json``, of the commands that
    look after a lake already made (compact, repair); ``dry_run`` and ``json`` are their
    help."""
    parser.add_argument("--dry-run", action="store_true", help=dry_run)
    add_wait_for_lock(parser)
    parser.add_argument("--quiet", action="store_true", help="Print nothing but errors.")
    parser.add_argument("--json", action="store_true", help=json)


def beam_flags() -> list[str]:
    """Every pipeline option Beam and feedlake define, as a flag (``--runner``)."""
    return [f"--{name}" for name in PipelineOptions([]).get_all_options()]


def load_runner_options(argv: list[str]) -> None:
    """Imports the module of the runner ``--runner`` names (a Beam name or a module path),
    so that the options only it defines are known; a runner that cannot be loaded is left
    to ``check_runner``, which says why."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.runner import create_runner

    name = PipelineOptions(argv).view_as(StandardOptions).runner
    if isinstance(name, str):
        with contextlib.suppress(ValueError, ImportError):
            create_runner(name)


def unknown_flags(argv: list[str]) -> list[tuple[str, str | None]]:
    """Flags in ``argv`` that no pipeline option (Beam's or feedlake's) defines.

    Returns:
        Each unknown flag as written, with the closest known flag (or None).
    """
    known = set(PipelineOptions([]).get_all_options())
    unknown = set(PipelineOptions(argv).get_all_options(retain_unknown_options=True)) - known
    found = []
    for arg in argv:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and flag[2:].replace("-", "_") in unknown:
            close = difflib.get_close_matches(flag[2:].replace("-", "_"), known, n=1)
            found.append((flag, f"--{close[0]}" if close else None))
    return found


class _RefusingParser(_BeamArgumentParser):
    """Beam's option parser, raising instead of printing its whole usage and exiting."""

    def error(self, message: str) -> None:
        if not message.startswith("ambiguous option: "):  # Beam ignores these too
            raise ValueError(message)


def bad_value(argv: list[str]) -> str | None:
    """argparse's message for the first flag in ``argv`` whose value its option refuses
    (``--direct_num_workers=abc``), or None when every value parses.

    Beam parses the same way when the pipeline is built, but then prints the usage of every
    option it knows and exits.
    """
    parser = _RefusingParser(allow_abbrev=False)
    classes: dict[str, type[PipelineOptions]] = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)  # the first of a repeated class, as Beam picks
    for cls in classes.values():
        cls._add_argparse_args(parser)
    try:
        parser.parse_known_args(argv)
    except ValueError as error:
        return str(error)
    return None
