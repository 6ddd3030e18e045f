"""The language detector: py3langid's model among MIL-OSI's languages, and the shortcut for
text full of English function words held to the model's verdict."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from benchmarks.corpus import generate
from connectors.inputs import Drop
from pipeline.core.text import words_of
from pipeline.parse import language as language_module
from pipeline.parse.articles import _ENGLISH, parse_segment
from pipeline.parse.language import ENGLISH_SAMPLE, detect, language
from pipeline.parse.split import segments_of
from tests.conftest import ROOT, make_segment


def english_shortcut_taken(title: str, body: tuple[str, ...]) -> bool:
    words = words_of(" ".join(body), _ENGLISH, ENGLISH_SAMPLE)
    sampled = min(words.count, ENGLISH_SAMPLE)
    return sampled >= language_module.ENGLISH_MIN_WORDS and words.listed >= (
        language_module.ENGLISH_SHARE * sampled
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Банк России проведёт депозитный аукцион 23 декабря", "ru"),  # all languages: mk
        ("Студенты МГУ стали чемпионами Москвы по баскетболу", "ru"),
        ("Уряд України ухвалив нову програму підтримки", "uk"),
        ("中国新能源乘用车十一月零售销量同比增长百分之九", "zh"),
        ("Le Parlement européen adopte de nouvelles règles ferroviaires", "fr"),
        ("The Bank of Russia kept the key rate unchanged", "en"),
        ("OFZ 26245 SU26245RMFS9 683.4 678.1", "und"),  # fewer than 15 letters
    ],
)
def test_the_model_tells_milosi_languages_apart(text, code):
    assert detect(text) == code


def test_the_english_shortcut_agrees_with_the_model_wherever_it_is_taken(sample_bytes, run):
    """Every article of the real drop, the layout drops, the labelled sets and 300 of the
    benchmark corpus: where the shortcut says English, the model says so too."""
    drops = [
        sample_bytes,
        *(p.read_bytes() for p in (ROOT / "tests/fixtures/layouts").glob("*.txt")),
    ]
    corpus = generate(300, exact_rate=0, near_rate=0, seed=11, per_drop=300)
    drops += [text.encode() for text in corpus.drops.values()]
    articles = [
        parse_segment(segment, run)
        for data in drops
        for segment in segments_of(
            Drop("/d/x.txt", data, "0" * 64, None, dt.date(2025, 12, 19), "x")
        )
    ]
    for name in ("labelled.jsonl", "labelled_channels.jsonl"):
        for line in (ROOT / "tests/fixtures" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            body = row["body"] if isinstance(row["body"], list) else [row["body"]]
            raw = "\n\n".join([row["title"], *body]).encode()
            articles.append(parse_segment(make_segment(raw), run))
    taken = [a for a in articles if english_shortcut_taken(a.title, a.body)]
    assert len(taken) >= 300
    for article in taken:
        assert detect("\n".join([article.title, *article.body])) == "en", article.title
        assert article.language == "en"


def test_without_the_shortcut_the_model_decides(monkeypatch):
    calls = []
    monkeypatch.setattr(language_module, "detect", lambda text: calls.append(text) or "fr")
    english = ("The summit opens in Beijing tomorrow with the leaders of the region. " * 8,)
    assert language("A title", english, 96, 30) == "en" and calls == []  # 31% of 96 words
    assert language("A title", english, 96, 5) == "fr" and len(calls) == 1  # 5%: the model
    assert language("A title", ("Too few words for the shortcut.",), 6, 3) == "fr"
