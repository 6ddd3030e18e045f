"""Text from the lake, the network or a drop, made safe to print on a terminal.

Guarantees: :func:`inert` returns text that prints as itself and changes nothing on the
terminal: control characters (an escape sequence's ESC, a carriage return, a backspace, C1
controls), the bidirectional overrides that reorder what follows and the line separators are
shown as visible escapes (``\\x1b``, ``\\u202e``). :func:`plain` is the same text as a rich
``Text``, which rich never reads as markup, so ``[/]`` or ``[bold]`` in a title prints as
those characters. Every printer of ``pipeline.cli`` passes text it did not write itself
through one of them.
"""

from __future__ import annotations

import re

from rich.text import Text

__all__ = ["inert", "plain"]

# Characters that move, recolour, reorder or hide what a terminal shows: C0, DEL and C1
# controls, the line and paragraph separators, and the bidi embeddings, overrides and
# isolates. Joiners (U+200C, U+200D) stay: scripts and emoji need them.
_ACTIVE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value: object, keep_newlines: bool = False) -> str:
    """``value`` as text a terminal prints as it is, control characters shown as escapes.

    With ``keep_newlines``, a line feed stays one (a multi-line message), every other control
    character is escaped.
    """
    text = str(value)
    if keep_newlines:
        return "\n".join(_ACTIVE.sub(_visible, line) for line in text.split("\n"))
    return _ACTIVE.sub(_visible, text)


def plain(value: object, keep_newlines: bool = False) -> Text:
    """``value`` as rich text that rich prints literally: no markup, no emoji codes."""
    return Text(inert(value, keep_newlines))
