"""The report's charts answer their questions from an inspect report's rows."""

from __future__ import annotations

from pipeline.cli.report_charts import FOLDERS_SHOWN, NAMED, OTHER, charts


def report(**overrides) -> dict:
    empty = {
        "articles_by_dt_region": [],
        "articles_by_dt_topic": [],
        "runs": [],
        "partitions": [],
    }
    return {**empty, **overrides}


def by_id(**overrides) -> dict:
    return {chart.id: chart for chart in charts(report(**overrides))}


def test_the_smallest_of_many_topics_are_other_with_their_names():
    rows = [{"dt": "2025-08-29", "topic": f"topic-{n:02d}", "articles": 100 - n} for n in range(12)]
    values = by_id(articles_by_dt_topic=rows)["by_topic"].spec["data"]["values"]
    assert [v["topic"] for v in values].count(OTHER) == 1 and len(values) == NAMED + 1
    (other,) = [v for v in values if v["topic"] == OTHER]
    assert other["articles"] == sum(100 - n for n in range(NAMED, 12))
    assert other["names"].split(", ")[0] == f"topic-{NAMED:02d} {100 - NAMED}"


def test_eight_topics_are_all_named():
    rows = [{"dt": "2025-08-29", "topic": f"t{n}", "articles": 1} for n in range(NAMED + 1)]
    values = by_id(articles_by_dt_topic=rows)["by_topic"].spec["data"]["values"]
    assert OTHER not in {v["topic"] for v in values}


def test_compaction_ranks_the_folders_with_most_files():
    partitions = [
        {
            "kind": "articles",
            "partition": f"dt=2025-08-{n:02d}",
            "files": n,
            "records": n,
            "bytes": 1000 * n,
        }
        for n in range(1, 31)
    ]
    chart = by_id(partitions=partitions)["compaction"]
    values = chart.spec["data"]["values"]
    assert len(values) == FOLDERS_SHOWN and values[0]["files"] == 30
    assert min(v["files"] for v in values) == 30 - FOLDERS_SHOWN + 1
    assert chart.note.startswith("29 of 30 partition folders hold more than one file")


def test_nothing_to_draw_is_said_not_drawn():
    run = {
        "started": "2026-12-01T00:00:00",
        "run_id": "r",
        "duplicates": 0,
        "rejects": 0,
        "feeds_by_outcome": {},
    }
    found = by_id(runs=[run])
    assert all(chart.spec is None and chart.note for chart in found.values())


def test_two_runs_started_in_the_same_second_are_two_bars():
    runs = [
        {
            "started": f"2026-12-01T00:00:00.{ms:03d}000+00:00",
            "run_id": f"r{ms}",
            "duplicates": ms,
            "rejects": 1,
            "feeds_by_outcome": {},
        }
        for ms in (120, 870)
    ]
    values = by_id(runs=runs)["per_run"].spec["data"]["values"]
    assert [(v["when"], v["what"], v["count"]) for v in values] == [
        ("2026-12-01 00:00:00.120", "duplicates", 120),
        ("2026-12-01 00:00:00.120", "rejects", 1),
        ("2026-12-01 00:00:00.870", "duplicates", 870),
        ("2026-12-01 00:00:00.870", "rejects", 1),
    ]
    alone = by_id(runs=runs[:1])["per_run"].spec["data"]["values"]
    assert alone[0]["when"] == "2026-12-01 00:00:00"  # to the second, when that tells them apart
