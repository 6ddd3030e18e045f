"""The ``feedlake`` command: ``run`` a batch into the lake, ``watch`` it, ``compact`` it,
``validate`` drops, ``inspect`` the lake.

Exit codes: 0 done, 1 the run failed, 2 a usage error (the message says what to fix), 3 the
lake is being written by another writer (or its lease file cannot be read), 130 interrupted
(Ctrl-C; the message says whether the run committed).
"""

from __future__ import annotations

import sys

from pipeline.cli.batch import command_run, command_watch
from pipeline.cli.common import UsageError, stdout_closed
from pipeline.cli.compact import command_compact
from pipeline.cli.interrupts import Interrupted, end_interrupted, stop_on_sigint
from pipeline.cli.read import command_inspect, command_validate
from pipeline.cli.repair import command_repair
from pipeline.lake.confine import DamagedLakeFile, NewerLakeFormat

__all__ = ["main"]

_INTERRUPTED = {  # what an interrupt before the command's own report leaves
    "run": "interrupted: nothing was committed",
    "compact": "interrupted: the next writer finishes or undoes what it left",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``feedlake`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "run": command_run,
        "watch": command_watch,
        "compact": command_compact,
        "validate": command_validate,
        "inspect": command_inspect,
        "repair": command_repair,
    }
    if argv[:1] == ["--version"]:
        from pipeline.core.version import __version__

        print(f"feedlake {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: feedlake {run,watch,compact,validate,inspect,repair} [options] | --version\n"
            "  run       drops and feeds into the lake ('feedlake run --help' for the options)\n"
            "  watch     keep the lake current: a batch whenever a drop or feed is new\n"
            "  compact   merge each partition folder's small files into few large ones\n"
            "  validate  parse drops and report what they hold, writing nothing\n"
            "  inspect   what a lake holds, or --sql over it (DuckDB)\n"
            "  repair    move damaged metadata aside, say what is lost, rebuild what can be"
        )
        return 0 if argv else 2
    stop_on_sigint()
    command, rest = argv[0], argv[1:]
    if command not in commands:
        print(
            f"feedlake: unknown command {command!r}; choose one of: {', '.join(commands)}",
            file=sys.stderr,
        )
        return 2
    try:
        return commands[command](rest)
    except Interrupted as stopped:
        return end_interrupted(command, str(stopped))
    except KeyboardInterrupt:
        return end_interrupted(command, _INTERRUPTED.get(command, "interrupted"))
    except (UsageError, NewerLakeFormat) as error:
        print(f"feedlake {command}: error: {error}", file=sys.stderr)
        return 2
    except DamagedLakeFile as error:  # the lake's metadata, not the code: what to do is said
        print(f"feedlake {command}: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        stdout_closed()
        return 0
    except OSError as error:  # the disk, not the code: one line, not a traceback
        print(
            f"feedlake {command}: error: {error}; check that path (free space, permissions, "
            "a file in the way) and run again",
            file=sys.stderr,
        )
        return 1
