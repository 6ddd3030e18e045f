"""Two short real-looking stories, and articles made of them (reworded for near copies)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from pipeline.core.text import fingerprint, words_of
from tests.conftest import make_article

STORY = [
    "WINDHOEK, Aug. 29 (Xinhua) -- The Namibian government has launched a nationwide school "
    "rehabilitation campaign to rebuild dilapidated infrastructure in all constituencies.",
    "The programme was officially launched on Wednesday by Prime Minister Elijah Ngurare at "
    "Mukuvi Primary School in Kavango East in north-eastern Namibia.",
    "The campaign aims to equip all schools in Namibia with functional toilets, laboratories "
    "and other necessary facilities, according to a statement from the Prime Minister's Office.",
    "The statement said the government plans to use the skills of unemployed vocational school "
    "graduates and other community members with relevant skills to carry out the jobs.",
]


OTHER = [
    "HANOI, Aug. 29 (Xinhua) -- Vietnamese citizens will receive 100,000 Vietnamese dong as a "
    "cash gift to mark the 80th National Day, the Vietnam News Agency reported Thursday.",
    "Citizens will receive the money either through bank transfer or delivery before the day.",
]


def _content_id(body):
    return fingerprint(words_of(" ".join(body)).joined)


def article(body, *, uri="/d/milosi-2025-08-29.txt", index=0, day=29, title="Title"):
    base = make_article()
    return make_article(
        title=title,
        body=tuple(body),
        id=_content_id(body),
        published_date=dt.date(2025, 8, day),
        lineage=dataclasses.replace(base.lineage, source_uri=uri, segment_index=index),
    )


def reworded(body, changes, seed=1):
    rng = random.Random(seed)
    words = " ".join(body).split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = f"changed{rng.randrange(10**6)}"
    return [" ".join(words)]
