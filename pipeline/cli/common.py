"""What every ``feedlake`` command shares: usage errors, logging, the lake's root, and the
checks made before anything is written."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

__all__ = [
    "EXIT_LAKE_BUSY",
    "UsageError",
    "add_output_flags",
    "check_beam_args",
    "check_lake_writable",
    "check_runner",
    "configure_logging",
    "filesystem_options",
    "lake_root",
    "parse_date",
    "stdout_closed",
]

EXIT_LAKE_BUSY = 3


class UsageError(Exception):
    """The command line asks for something that cannot be done; exit code 2."""


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


def parse_date(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date; write it as YYYY-MM-DD") from None


def lake_root(lake: str) -> str:
    return lake.rstrip("/") if "://" in lake else str(Path(lake).resolve())


def check_beam_args(beam_args: list[str]) -> None:
    from pipeline.cli.options import bad_value, load_runner_options, unknown_flags

    load_runner_options(beam_args)
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


def stdout_closed() -> None:
    """The reader of stdout went away (``| head``): what the command did stands. Output from
    now on, Python's flush at exit included, goes nowhere instead of failing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
