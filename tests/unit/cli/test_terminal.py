"""Text printed for people changes nothing on the terminal and is never markup."""

from __future__ import annotations

import io

from rich.console import Console

from pipeline.cli.terminal import inert, plain


def test_control_characters_print_as_visible_escapes():
    assert inert("a\x1b[31mb\x07c\rd\x9be") == "a\\x1b[31mb\\x07c\\x0dd\\x9be"
    assert inert("\u202eevil\u2066\u2028") == "\\u202eevil\\u2066\\u2028"
    assert inert("two\nlines\ttab") == "two\\x0alines\\x09tab"
    assert inert("two\nlines\x1b", keep_newlines=True) == "two\nlines\\x1b"


def test_ordinary_text_is_unchanged():
    text = "Xi Jinping – “SCO” 上海 नमस्ते 👩‍👩‍👧 C:\\path [bold]"
    assert inert(text) == text


def test_rich_prints_markup_and_emoji_codes_as_their_characters():
    out = io.StringIO()
    Console(file=out, width=200).print(plain("[/] [bold]x[/bold] :warning: \x1b[2J"))
    assert out.getvalue() == "[/] [bold]x[/bold] :warning: \\x1b[2J\n"
