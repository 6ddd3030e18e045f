"""The lake: where records go, how files are written, staged and published.

- :mod:`pipeline.lake.paths`: kinds, partition folders and file names (controlled values only);
- :mod:`pipeline.lake.files`: Avro container files, written in staging and renamed into place;
- :mod:`pipeline.lake.staging`: articles encoded once and staged as parts while dedup decides;
- :mod:`pipeline.lake.publish`: the transforms that write articles, duplicates and rejects;
- :mod:`pipeline.lake.index`: what a run adds to the deduplication index;
- :mod:`pipeline.lake.lease`: the writer lease, one writer at a time;
- :mod:`pipeline.lake.commit`: the commit protocol, and recovery from a crash at any step;
- :mod:`pipeline.lake.compact`: a partition folder's small files merged into few large ones
  (:mod:`pipeline.lake.merge`: block by block), committed like a run.
"""

from pipeline.lake.files import (
    BLOCK_BYTES,
    CODECS,
    DEFLATE_LEVEL,
    LakeOutput,
    avro_writer,
    encoder_for,
)
from pipeline.lake.paths import (
    PARTITION_KEYS,
    PublishedFile,
    destination_of,
    file_name,
    kind_of,
    parse_partition_keys,
    partition_of,
)
from pipeline.lake.index import WriteIndex
from pipeline.lake.publish import PublishArticles, WriteToLake
from pipeline.lake.staging import ArticleEncoder, StagedArticle, stage_article

__all__ = [
    "BLOCK_BYTES",
    "CODECS",
    "DEFLATE_LEVEL",
    "PARTITION_KEYS",
    "ArticleEncoder",
    "LakeOutput",
    "PublishArticles",
    "PublishedFile",
    "StagedArticle",
    "WriteIndex",
    "WriteToLake",
    "avro_writer",
    "destination_of",
    "encoder_for",
    "file_name",
    "kind_of",
    "parse_partition_keys",
    "partition_of",
    "stage_article",
]
