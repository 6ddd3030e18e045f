"""The pipeline factory: builds the graph for one run; the caller runs it.

The graph writes everything into the run's staging folder: the lake's data files (published
when the run commits, :mod:`pipeline.lake.commit`) and two small JSON Lines reports the
driver turns into the manifest: one line per input, a drop or a feed (what it was and what
became of its segments or items), and one per file the run will publish.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from connectors.drops import DEFAULT_MAX_DROP_BYTES, ReadDrops
from connectors.feeds import FeedReport, FetchPolicy, ReadFeeds
from pipeline.classify.classifier import ClassifyArticles
from pipeline.core.records import Reject, RunContext
from pipeline.dedup.decide import DEFAULT_THRESHOLD, DecideDuplicates
from pipeline.dedup.in_shards import DecideDuplicatesInShards
from pipeline.lake.commit import staging_folder
from pipeline.lake.files import DEFLATE_LEVEL, LakeOutput
from pipeline.lake.history import NEAR_WINDOW_DAYS, KnownItems, LakeHistory
from pipeline.lake.index import WriteIndex
from pipeline.lake.manifest import FILES_REPORT, INPUTS_REPORT
from pipeline.lake.paths import PARTITION_KEYS
from pipeline.lake.publish import PublishArticles, WriteToLake
from pipeline.parse.articles import ParseArticles
from pipeline.parse.feed_items import ParseFeedItems
from pipeline.parse.split import DEFAULT_MAX_SEGMENT_BYTES, DropSummary, SplitDrops

__all__ = ["JobConfig", "build_pipeline", "repeated_inputs"]


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """Everything one batch run needs, as plain values."""

    drops: tuple[str, ...]
    lake: str
    run: RunContext
    feeds: tuple[str, ...] = ()
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # path: earlier run id
    # What was asked for (patterns as given, feed list, lake, output options): a retry of
    # the same request under the same run id is recognised by it (pipeline.jobs).
    request: dict[str, Any] = dataclasses.field(default_factory=dict)
    feed_validators: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    fetch_policy: FetchPolicy = dataclasses.field(default_factory=FetchPolicy)
    reference_date: dt.date | None = None
    codec: str = "deflate"
    deflate_level: int = DEFLATE_LEVEL
    max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES  # a drop inflating past it is rejected
    partition_by: tuple[str, ...] = PARTITION_KEYS
    near_threshold: float = DEFAULT_THRESHOLD
    near_window_days: int = NEAR_WINDOW_DAYS
    dedup_shards: int = 1  # 1: the decision in one step; more: split across workers by key
    lease_generation: int = 0  # the writer lease's the run is made under: names its staging

    def __post_init__(self) -> None:
        if repeated := repeated_inputs(self.drops, self.feeds):
            raise ValueError(f"JobConfig: {repeated[0]} is given more than once; name it once")


def repeated_inputs(drops: Iterable[str], feeds: Iterable[str]) -> list[str]:
    """The names given to more than one input. The run's report counts each input's outcomes
    by its name (a drop's path, a feed's URL, a local feed's absolute path, as it is read),
    so two inputs of one name could not be told apart."""
    local = (feed if "://" in feed else os.path.abspath(feed) for feed in feeds)
    names = Counter([*drops, *local])
    return sorted(name for name, count in names.items() if count > 1)


def _reject_outcome(reject: Reject) -> tuple[str, str]:
    return reject.lineage.source_uri, f"rejects:{reject.reason}"


def _summary_of(kind: str):
    def summary(record: DropSummary | FeedReport) -> tuple[str, dict]:
        line = {"type": kind, **dataclasses.asdict(record)}
        if kind == "feed":
            line["segments"] = line["items"]
        return record.uri, line

    return summary


def _input_report(element: tuple[str, dict]) -> str:
    _uri, grouped = element
    (line,) = grouped["summary"]
    outcomes = dict(grouped["outcomes"])
    line["articles"] = outcomes.pop("articles", 0)
    for kind in ("duplicates", "rejects"):
        line[f"{kind}_by_kind" if kind == "duplicates" else "rejects_by_reason"] = {
            label.split(":", 1)[1]: count
            for label, count in sorted(outcomes.items())
            if label.startswith(f"{kind}:")
        }
    line["duplicates"] = sum(line["duplicates_by_kind"].values())
    line["rejects"] = sum(line["rejects_by_reason"].values())
    return json.dumps(line, sort_keys=True)


def _write_lines(lines: list[str], path: str) -> str:
    """One report file, its lines sorted. ``WriteToText`` would add about ten transforms and
    four stages per report, 0.35 s of every run here; a report is a few lines per input."""
    with FileSystems.create(path) as fh:
        fh.write("".join(f"{line}\n" for line in sorted(lines)).encode("utf-8"))
    return path


def _write_report(pcoll, staging: str, name: str):
    return (
        pcoll
        | f"Gather {name}" >> beam.combiners.ToList()
        | f"Write {name}" >> beam.Map(_write_lines, FileSystems.join(staging, name))
    )


def build_pipeline(pipeline: beam.Pipeline, config: JobConfig) -> dict[str, beam.PCollection]:
    """Add the batch graph for ``config`` to ``pipeline`` and return its main collections."""
    if not config.drops and not config.feeds:
        raise ValueError("build_pipeline: give drops, feeds or both")
    staging = staging_folder(config.lake, config.run.run_id, config.lease_generation)
    parsed_articles, rejects_by_source, summaries = [], [], []
    if config.drops:
        drops = pipeline | "Read drops" >> ReadDrops(
            list(config.drops), config.reference_date, config.max_drop_bytes
        )
        split = drops | "Split into articles" >> SplitDrops(config.max_segment_bytes)
        parsed = split["segments"] | "Parse articles" >> ParseArticles(config.run)
        parsed_articles.append(parsed["articles"])
        rejects_by_source.append(parsed["rejects"])
        summaries.append(split["summaries"] | "Key drop summaries" >> beam.Map(_summary_of("drop")))
    if config.feeds:
        feeds = pipeline | "Read feeds" >> ReadFeeds(
            list(config.feeds),
            config.feed_validators,
            config.fetch_policy,
            known=functools.partial(KnownItems, config.lake),
        )
        items = feeds["items"] | "Parse feed items" >> ParseFeedItems(config.run)
        parsed_articles.append(items["articles"])
        rejects_by_source.append(items["rejects"])
        summaries.append(feeds["reports"] | "Key feed reports" >> beam.Map(_summary_of("feed")))
    rejects = rejects_by_source | "Gather rejects" >> beam.Flatten()
    classified = (
        parsed_articles
        | "Gather articles" >> beam.Flatten()
        | "Classify region and topic" >> ClassifyArticles()
    )
    history = LakeHistory(config.lake, config.near_window_days)
    if config.dedup_shards > 1:
        decide = DecideDuplicatesInShards(history, config.near_threshold, config.dedup_shards)
    else:
        decide = DecideDuplicates(history, config.near_threshold)
    decided = classified | "Decide duplicates" >> decide
    output = LakeOutput(config.lake, staging, config.run.run_id, config.codec, config.deflate_level)
    articles = classified | "Publish articles" >> PublishArticles(
        decided["decisions"], output, config.partition_by
    )
    index_files = decided["index"] | "Write the index" >> WriteIndex(output)
    reject_files = rejects | "Write rejects" >> WriteToLake(output, config.partition_by)
    published = (articles["files"], index_files, reject_files) | "Gather files" >> beam.Flatten()

    # Only small ((input, label), count) pairs cross the stage boundary, never whole records.
    reject_counts = (
        rejects
        | "Label rejects by input" >> beam.Map(_reject_outcome)
        | "Count rejects" >> beam.combiners.Count.PerElement()
    )
    outcomes = (
        (articles["outcomes"], reject_counts)
        | "Gather outcomes" >> beam.Flatten()
        | "Count outcomes" >> beam.CombinePerKey(sum)
        | "Key counts by input" >> beam.MapTuple(lambda key, n: (key[0], (key[1], n)))
    )
    reports = (
        {"summary": summaries | "Gather summaries" >> beam.Flatten(), "outcomes": outcomes}
        | "Join outcomes to inputs" >> beam.CoGroupByKey()
        | "Format input report" >> beam.Map(_input_report)
    )
    _write_report(reports, staging, INPUTS_REPORT)
    files = published | "Format file report" >> beam.Map(
        lambda f: json.dumps(dataclasses.asdict(f), sort_keys=True)
    )
    _write_report(files, staging, FILES_REPORT)
    return {"articles": classified, "rejects": rejects, "published": published}
