"""How every ``feedlake`` command reads its command line.

Guarantees: a flag is spelled whole (``--lak`` is not ``--lake``: abbreviations are off); a
mistake is one :class:`~pipeline.cli.common.UsageError` line naming the flag or value and the
closest one the command or Beam knows, never argparse's usage block; a flag the command does
not define passes through only when Beam knows it (a pipeline option), else it is refused the
same way.
"""

from __future__ import annotations

import argparse
import re

from pipeline.cli.common import UsageError, check_beam_args, closest, unknown_option

__all__ = ["CommandParser"]

_UNRECOGNIZED = "unrecognized arguments: "
_AMBIGUOUS = re.compile(r"ambiguous option: (\S+) could match")


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` without abbreviations, whose errors are one line.

    ``parse_known_args`` leaves Beam's pipeline options for Beam and refuses the flags that
    neither this command nor Beam defines.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        parsed, rest = super().parse_known_args(args, namespace)
        check_beam_args(rest, self._own_flags(), self.prog)
        return parsed, rest

    def _own_flags(self) -> list[str]:
        return [flag for action in self._actions for flag in action.option_strings]

    def _check_value(self, action: argparse.Action, value) -> None:
        if action.choices is not None and value not in action.choices:
            shown = [str(choice) for choice in action.choices]
            listed = ", ".join(shown) if len(shown) <= 12 else f"{shown[0]} to {shown[-1]}"
            close = closest(str(value), shown)
            hint = f"; did you mean {close}?" if close else ""
            raise argparse.ArgumentError(action, f"{value!r} is not one of {listed}{hint}")

    def error(self, message: str) -> None:
        if message.startswith(_UNRECOGNIZED):
            stray = message.removeprefix(_UNRECOGNIZED).split()[0]
            if stray.startswith("-"):
                raise unknown_option(stray.split("=", 1)[0], self._own_flags(), self.prog)
            raise UsageError(f"unexpected argument {stray!r}; see '{self.prog} --help'")
        if ambiguous := _AMBIGUOUS.match(message):
            raise unknown_option(ambiguous[1], self._own_flags(), self.prog)
        raise UsageError(message.removeprefix("argument "))
