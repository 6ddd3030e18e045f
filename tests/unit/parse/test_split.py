"""The splitter: real drop boundaries, separator styles, and bounded pieces."""

from __future__ import annotations

import codecs
import itertools

import pytest

from connectors.inputs import Drop
from pipeline.parse.split import segments_of, split_drop

ARTICLE = (
    "Title {n}\n\nTranslation. Region: Russian Federal –\n\nSource: Channel – Channel –\n\n"
    "An important disclaimer is at the bottom of this article.\n\n"
    "BEIJING, Aug. 29 (Xinhua) — Body of article {n}.\n\nSecond paragraph {n}. –0–\n\n"
)
FOOTER = (
    "Please note: This information is raw content obtained directly from the source of the "
    "information. It is an accurate report of what the source claims and does not necessarily "
    "reflect the position of MIL-OSI or its clients.\n\n"
)


def segments(data: bytes, **kwargs) -> list[bytes]:
    return [data[s.offset : s.end] for s in split_drop(data, **kwargs)]


def test_real_drop_splits_into_ten_segments_that_start_at_titles(sample_bytes):
    spans = split_drop(sample_bytes)
    assert len(spans) == 10
    assert sample_bytes[spans[2].offset :].startswith(b"/SCO Summit in Tianjin/ Exclusive")
    assert {s.ended_by for s in spans} == {"footer"}
    for span in spans:
        assert sample_bytes[span.offset : span.end].endswith(b"MIL-OSI or its clients.")


def test_bytes_between_segments_are_only_blank_and_dot_lines(sample_bytes):
    spans = split_drop(sample_bytes)
    gaps = [sample_bytes[a.end : b.offset] for a, b in itertools.pairwise(spans)]
    gaps += [sample_bytes[: spans[0].offset], sample_bytes[spans[-1].end :]]
    for gap in gaps:
        assert set(gap.replace(b".", b"").decode()) <= {"\n", " ", "\r", "\t"}


@pytest.mark.parametrize(
    "separator",
    ["{footer}.\n\n", "{footer}", ".\n\n", ""],
    ids=["footer-and-dot", "footer-only", "dot-only", "neither"],
)
def test_every_separator_style_gives_one_segment_per_article(separator):
    text = "".join(ARTICLE.format(n=n) + separator.format(footer=FOOTER) for n in range(3))
    found = segments(text.encode())
    assert len(found) == 3
    for n, segment in enumerate(found):
        assert segment.startswith(f"Title {n}\n".encode())
        assert f"Second paragraph {n}.".encode() in segment


@pytest.mark.parametrize("filler", ["\x00", "\x00\x00\x00", " \x00\t", "\x01", "\x1a", "\x7f"])
def test_a_line_of_control_characters_is_a_blank_line(filler):
    text = "".join(ARTICLE.format(n=n) + FOOTER + ".\n\n" for n in range(3))
    clean = segments(text.encode())
    filled = segments(text.replace("\n\n", f"\n{filler}\n").encode())
    assert len(filled) == 3
    assert [s.replace(filler.encode(), b"") for s in filled] == clean


def test_crlf_and_cr_line_ends_split_the_same():
    text = "".join(ARTICLE.format(n=n) + FOOTER + ".\n" for n in range(2))
    for newline in ("\r\n", "\r"):
        assert len(segments(text.replace("\n", newline).encode())) == 2


def test_long_line_is_cut_into_bounded_marked_pieces():
    data = b"Title\n\n" + b"y" * 10_000 + b"\n"
    spans = split_drop(data, max_segment_bytes=4096)
    assert [s.ended_by for s in spans] == ["oversize"] * 4
    assert spans[0].end - spans[0].offset == len(b"Title")
    assert max(s.end - s.offset for s in spans) <= 4096
    assert b"".join(data[s.offset : s.end] for s in spans[1:]) == b"y" * 10_000


def test_empty_and_blank_input_give_no_segment():
    assert split_drop(b"") == []
    assert split_drop(b"\n\n.\n  \n.\n") == []


def test_max_segment_bytes_must_hold_a_title():
    with pytest.raises(ValueError, match="max_segment_bytes"):
        split_drop(b"x", max_segment_bytes=10)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_drop_with_a_bom_splits_as_its_text_and_keeps_its_own_bytes(codec, sample_bytes):
    text = sample_bytes.decode("utf-8")
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    data = bom + text.encode(codec)
    drop = Drop("/d/milosi-2025-08-29.txt", data, "0" * 64, None, None, None)
    found = list(segments_of(drop))
    clean = [sample_bytes[s.offset : s.end] for s in split_drop(sample_bytes)]
    assert [s.raw.decode(codec).encode("utf-8") for s in found] == clean
    for segment in found:
        assert segment.raw == data[segment.offset : segment.offset + segment.length]
        assert segment.encoding == codec


def test_a_utf16_drop_cut_into_oversize_pieces_keeps_whole_characters():
    text = "Title\n\nSource: Xinhua\n\n" + "ж€𝄞" * 3000
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le") + b"\x00"  # and half a unit, cut off
    drop = Drop("/d/drop.txt", data, "0" * 64, None, None, None)
    pieces = list(segments_of(drop, max_segment_bytes=4096))
    assert {p.ended_by for p in pieces} == {"oversize"}
    assert (
        b"".join(p.raw for p in pieces[1:]).decode("utf-16-le", "replace").startswith("ж€𝄞" * 3000)
    )
    assert pieces[-1].offset + pieces[-1].length == len(data)  # the half unit is kept too
    for a, b in itertools.pairwise(pieces):
        assert a.offset + a.length <= b.offset
        assert a.length % 2 == 0


NOT_DROPS = {
    "readme": b"# feedlake\n\n```sh\nmake run\n```\n\nBoth need only Python 3.11.\n",
    "rss": b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>T</title></channel></rss>\n',
    "title and body": b"Title\n\nBody.\n",
}


@pytest.mark.parametrize("data", NOT_DROPS.values(), ids=NOT_DROPS.keys())
def test_a_file_with_no_milosi_marker_is_one_not_a_drop_segment(data):
    drop = Drop("/d/README.md", data, "0" * 64, None, None, None)
    (segment,) = segments_of(drop)
    assert (segment.offset, segment.raw, segment.ended_by) == (0, data, "not_a_drop")


@pytest.mark.parametrize(
    "marker",
    [
        "Source: Xinhua – Xinhua –",
        "Translation. Region: Russian Federal –",
        "An important disclaimer is at the bottom of this article.",
        "BEIJING, Aug. 29 (Xinhua) — The talks went on.",
        "The talks went on. –0–",
        FOOTER.strip(),
    ],
)
def test_any_one_marker_makes_a_file_a_drop(marker):
    data = f"Title\n\nBody.\n\n{marker}\n".encode()
    drop = Drop("/d/drop.txt", data, "0" * 64, None, None, None)
    assert "not_a_drop" not in {s.ended_by for s in segments_of(drop)}


def test_a_large_file_with_no_marker_is_rejected_in_bounded_pieces():
    data = b"just some notes, line after line\n" * 500
    drop = Drop("/d/notes.txt", data, "0" * 64, None, None, None)
    pieces = list(segments_of(drop, max_segment_bytes=4096))
    assert {p.ended_by for p in pieces} == {"not_a_drop"}
    assert b"".join(p.raw for p in pieces) == data
    assert max(p.length for p in pieces) == 4096


def test_a_blank_file_has_no_segment_at_all():
    drop = Drop("/d/empty.txt", b"\n \n.\n\x00\n", "0" * 64, None, None, None)
    assert list(segments_of(drop)) == []
