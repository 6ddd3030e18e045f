"""What every ``feedlake`` command shares: usage errors, logging, the lake's root, and the
checks made before anything is written."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "DATE_RANGE",
    "EXIT_LAKE_BUSY",
    "UsageError",
    "add_output_flags",
    "check_beam_args",
    "check_is_lake",
    "check_lake_writable",
    "check_runner",
    "closest",
    "configure_logging",
    "filesystem_options",
    "lake_root",
    "parse_date",
    "stdout_closed",
    "unknown_option",
]

EXIT_LAKE_BUSY = 3


class UsageError(Exception):
    """The command line asks for something that cannot be done; exit code 2."""


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to ``word`` in spelling (``difflib``'s ratio, ``-`` and ``_`` alike),
    if any is near; of equally near ones, the first."""

    def spelled(text: str) -> str:
        return str(text).replace("_", "-")

    best, best_ratio = None, 0.6
    for choice in choices:
        ratio = difflib.SequenceMatcher(None, spelled(word), spelled(choice)).ratio()
        if ratio > best_ratio:
            best, best_ratio = str(choice), ratio
    return best


def unknown_option(flag: str, command_flags: Iterable[str], prog: str) -> UsageError:
    """The error for a flag neither the command nor Beam defines, with the closest of both
    (the command's first)."""
    from pipeline.cli.options import beam_flags

    close = closest(flag, [*command_flags, *beam_flags()])
    hint = f": did you mean {close}?" if close else "."
    return UsageError(
        f"unknown option {flag}{hint} See '{prog} --help' (Beam's pipeline options pass "
        "through too)"
    )


def configure_logging(
    quiet: bool, verbose: bool, fmt: str = "text", watching: bool = False
) -> None:
    from pipeline.cli.logs import configure

    configure(quiet, verbose, fmt, watching)


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="Print nothing but errors.")
    parser.add_argument("--verbose", action="store_true", help="Show Beam's own log too.")
    parser.add_argument(
        "--json", action="store_true", help="Print the run manifest as JSON on stdout."
    )
    from pipeline.cli.logs import FORMATS

    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default="text",
        help="Log lines on stderr as text, or one JSON object a line (journald, Kubernetes). "
        "Default: %(default)s.",
    )


# The dates a command line may give (a drop's reference date, compaction's --since/--until).
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))


def parse_date(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date; write it as YYYY-MM-DD") from None
    if not DATE_RANGE[0] <= date <= DATE_RANGE[1]:
        raise UsageError(
            f"{flag} {text} is out of range; give a date from {DATE_RANGE[0]} to {DATE_RANGE[1]}"
        )
    return date


def lake_root(lake: str) -> str:
    return lake.rstrip("/") if "://" in lake else str(Path(lake).resolve())


def check_beam_args(
    beam_args: list[str], command_flags: Sequence[str] = ("--drops",), prog: str = "feedlake run"
) -> None:
    """The flags a command leaves to Beam are pipeline options Beam knows (with those of the
    runner ``--runner`` names), with values it takes; else a usage error naming the closest of
    ``command_flags`` and Beam's flags."""
    from pipeline.cli.options import bad_value, load_runner_options, unknown_flags

    load_runner_options(beam_args)
    if refused := bad_value(beam_args):
        raise UsageError(refused.removeprefix("argument "))
    if unknown := unknown_flags(beam_args):
        raise unknown_option(unknown[0][0], command_flags, prog)
    stray = [arg for arg in beam_args if not arg.startswith("-")]
    if stray and not any(arg.startswith("--") for arg in beam_args):
        hint = "drops are given with --drops" if "--drops" in command_flags else "see --help"
        raise UsageError(f"unexpected argument {stray[0]!r}; {hint}")


def filesystem_options(beam_args: list[str], paths: list[str]):
    """Beam's pipeline options from the flags feedlake does not define, checked, and given to
    Beam's filesystems: this process then reads and writes an object store (endpoint, region,
    credentials: ``--s3_endpoint_url``, ...) as a run's workers do. ``paths``: the lake and
    the drops, on S3 or not."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    check_beam_args(beam_args)
    options = PipelineOptions(beam_args)
    FileSystems.set_options(options)
    if any(path.startswith("s3://") for path in paths):
        from pipeline.lake.storage import share_s3_service_data

        share_s3_service_data()
    return options


def check_runner(options) -> None:
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


def check_lake_writable(lake: str) -> None:
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


# What a lake holds from its first run on (an older lake has no _lake.json); a folder with
# none of these is not a lake, and commands that only work on a lake create nothing in it.
_LAKE_MARKERS = ("_lake.json", "_runs", "_staging", "articles", "_index")


def check_is_lake(lake: str) -> None:
    """``lake`` is the root of a feedlake lake; else a usage error, before anything is made."""
    from apache_beam.io.filesystems import FileSystems

    if "://" in lake:  # an object store has no folders: its description, or a manifest
        from pipeline.lake.description import LAKE_FILE, has_history

        found = FileSystems.exists(FileSystems.join(lake, LAKE_FILE)) or has_history(lake)
    else:
        found = Path(lake).is_dir() and any((Path(lake) / name).exists() for name in _LAKE_MARKERS)
    if not found:
        what = (
            f"{lake} is not a folder"
            if "://" not in lake and not Path(lake).is_dir()
            else (f"none of {', '.join(_LAKE_MARKERS)} is there")
        )
        raise UsageError(
            f"--lake {lake}: not a feedlake lake ({what}); give the root of a lake "
            "'feedlake run' wrote"
        )


def stdout_closed() -> None:
    """The reader of stdout went away (``| head``): what the command did stands. Output from
    now on, Python's flush at exit included, goes nowhere instead of failing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
