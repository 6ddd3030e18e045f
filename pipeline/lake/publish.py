"""Publishing a run's records into the lake once deduplication has decided.

Guarantees: every staged article is written exactly once, kept (with its copy count) into its
partition or as a duplicate into ``duplicates/dt=`` of its published day, and counted per
input; memory holds a bounded buffer of parts being filled, never the run; rejects and index
entries are written one file per partition.

Articles, the bulk of a run, never wait in memory for deduplication to decide: they are
staged as parts (:mod:`pipeline.lake.staging`) and only ``(group, part path)`` crosses the
stage boundary. Once the decisions are known, one DoFn per group streams the group's parts
into the published files, putting each article's encoded dedup between its pieces and handing
whole blocks to fastavro's writer; the duplicates it finds are staged as parts again and
published per ``dt`` the same way. Rejects, fewer, are grouped by partition with a
GroupByKey and each group is written by one DoFn (:class:`WriteToLake`).
``fileio.WriteToFiles`` would do the same but matches its temp folder once per destination
(quadratic in partitions, 3 s of a 5,000-article run with 470 partitions), needs flat names
for nested partitions and logs a failed rename at DEBUG.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Protocol

import apache_beam as beam

from pipeline.core.bundles import in_global_window
from pipeline.core.records import Article, Dedup
from pipeline.lake.files import LakeOutput, StagedFile, write_file
from pipeline.lake.paths import (
    PARTITION_KEYS,
    PublishedFile,
    check_partition_keys,
    destination_of,
)
from pipeline.lake.staging import ArticleEncoder, Parts, read_parts, stage_article

__all__ = ["PublishArticles", "WriteToLake"]


class _Decisions(Protocol):
    def get(self, key: str) -> Dedup | None: ...


class _WritePartitionFn(beam.DoFn):
    """Writes one partition's records to a staged file, then renames it into place."""

    def __init__(self, output: LakeOutput) -> None:
        self.output = output

    def process(self, grouped: tuple[str, Iterable]) -> Iterator[PublishedFile]:
        destination, records = grouped
        yield write_file(self.output, destination, records)


class WriteToLake(beam.PTransform):
    """Records in; one :class:`PublishedFile` per file put in the lake out.

    Args:
        output: where and how to write.
        partition_by: the article partition keys, in folder order.
    """

    def __init__(self, output: LakeOutput, partition_by: tuple[str, ...] = PARTITION_KEYS):
        super().__init__()
        check_partition_keys(partition_by)
        self.output = output
        self.partition_by = tuple(partition_by)

    def expand(self, records):
        keys = self.partition_by
        return (
            records
            | "Key by partition" >> beam.Map(lambda record: (destination_of(record, keys), record))
            | "Group by partition" >> beam.GroupByKey()
            | "Write staged files" >> beam.ParDo(_WritePartitionFn(self.output))
        )


class _StageArticlesFn(beam.DoFn):
    """Articles in; ``(group, part path)`` out, a part per group per spill."""

    def __init__(self, staging: str, partition_by: tuple[str, ...], limit: int) -> None:
        self.staging = staging
        self.partition_by = partition_by
        self.limit = limit

    def setup(self) -> None:
        self.encoder = ArticleEncoder()

    def start_bundle(self) -> None:
        self.parts = Parts(self.staging, self.limit)

    def process(self, article: Article) -> Iterator[tuple[str, str]]:
        yield from self.parts.add(stage_article(article, self.encoder, self.partition_by))

    def finish_bundle(self):
        for staged in self.parts.flush():
            yield in_global_window(staged)


class _PublishGroupFn(beam.DoFn):
    """One group's parts into one published file per partition.

    With ``decisions`` (articles): kept articles are written with their copy count, and
    duplicates go to ``duplicates/dt=`` of their published day, with counts of outcomes per
    input. When the group is one day (articles partitioned by ``dt`` first), this group
    holds all of that day's duplicates and writes them itself; otherwise they are staged
    again, as parts of their day's group. Without (duplicates): every article is written
    with the dedup it was staged with.
    """

    DUPLICATE_PARTS = "duplicate_parts"
    OUTCOMES = "outcomes"

    def __init__(self, output: LakeOutput, limit: int) -> None:
        self.output = output
        self.limit = limit

    def setup(self) -> None:
        self.encoder = ArticleEncoder()

    def process(self, grouped: tuple[str, Iterable[str]], decisions: _Decisions | None = None):
        group, paths = grouped
        one_day = group.split("/")[1].startswith("dt=")
        files: dict[str, StagedFile] = {}
        duplicates = Parts(self.output.staging, self.limit)
        staged: list[tuple[str, str]] = []
        outcomes: Counter[tuple[str, str]] = Counter()
        for article in read_parts(paths):
            destination, dedup = article.destination, article.dedup
            if decisions is not None:
                decided = decisions.get(article.key)
                dedup = self.encoder.dedup(decided) if decided else self.encoder.undecided
                if decided is not None and decided.duplicate_of is not None:
                    outcomes[article.uri, f"duplicates:{decided.kind}"] += 1
                    destination = f"duplicates/dt={article.day}"  # as partition_of says
                    if not one_day:
                        duplicate = article._replace(destination=destination, dedup=dedup)
                        staged.extend(duplicates.add(duplicate))
                        continue
                else:
                    outcomes[article.uri, "articles"] += 1
            if destination not in files:
                files[destination] = StagedFile(self.output, destination)
            files[destination].write_encoded(article.head, dedup, article.tail)
        for destination in sorted(files):
            yield files[destination].close()
        staged.extend(duplicates.flush())
        for part in staged:
            yield beam.pvalue.TaggedOutput(self.DUPLICATE_PARTS, part)
        for outcome in outcomes.items():
            yield beam.pvalue.TaggedOutput(self.OUTCOMES, outcome)


class PublishArticles(beam.PTransform):
    """Classified articles in; their files in the lake out, once ``decisions`` are known.

    Outputs ``files`` (one :class:`PublishedFile` per file, articles and duplicates) and
    ``outcomes``: ``((source uri, label), count)`` with labels ``articles`` and
    ``duplicates:<kind>``, in partial counts to be summed.

    Args:
        decisions: a singleton with ``get(key)``: the :class:`~pipeline.core.records.Dedup` by
            :func:`~pipeline.core.records.segment_key` of every article dedup did not simply
            keep (keepers with copies, and duplicates), else None
            (:class:`pipeline.dedup.decide.Decisions`).
        output: where and how to write.
        partition_by: the article partition keys, in folder order.
        buffered: how many records a worker holds before it stages them as parts.
    """

    def __init__(
        self,
        decisions: beam.PCollection,
        output: LakeOutput,
        partition_by: tuple[str, ...] = PARTITION_KEYS,
        buffered: int = 2000,
    ) -> None:
        super().__init__()
        check_partition_keys(partition_by)
        if buffered < 2:
            raise ValueError("PublishArticles: buffered must be at least 2")
        self.decisions = decisions
        self.output = output
        self.partition_by = tuple(partition_by)
        self.buffered = buffered

    def expand(self, articles):
        publish = _PublishGroupFn(self.output, self.buffered)
        staging = self.output.staging
        published = (
            articles
            | "Stage articles as parts"
            >> beam.ParDo(_StageArticlesFn(staging, self.partition_by, self.buffered))
            | "Group parts" >> beam.GroupByKey()
            | "Publish kept articles"
            >> beam.ParDo(publish, beam.pvalue.AsSingleton(self.decisions)).with_outputs(
                publish.DUPLICATE_PARTS, publish.OUTCOMES, main="files"
            )
        )
        duplicate_files = (
            published[publish.DUPLICATE_PARTS]
            | "Group duplicate parts" >> beam.GroupByKey()
            | "Publish duplicates" >> beam.ParDo(publish)
        )
        files = (published["files"], duplicate_files) | "Gather files" >> beam.Flatten()
        return {"files": files, "outcomes": published[publish.OUTCOMES]}
