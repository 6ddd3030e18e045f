"""Staging holds data, never code: parts read back as they were written, and a part that
someone replaced (a crafted pickle, an Avro file of another shape, a destination outside the
lake's vocabulary) is refused with its path named, never executed."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import apache_beam as beam
import fastavro
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.lake.files import LakeOutput
from pipeline.lake.publish import _PublishGroupFn
from pipeline.lake.staging import Parts, StagedArticle, StagingCorrupt, read_parts

GROUP = "articles/dt=2025-08-29"


def staged(n: int, destination: str = f"{GROUP}/region=asia/topic=politics") -> StagedArticle:
    return StagedArticle(destination, f"/d.txt#{n}", "/d.txt", "2025-08-29", b"h" * n, b"t", None)


def stage(tmp_path: Path, articles: list[StagedArticle]) -> str:
    parts = Parts(str(tmp_path / "staging"), limit=1000)
    for article in articles:
        assert not list(parts.add(article))
    ((group, path),) = parts.flush()
    assert group == GROUP
    return path


class _Payload:
    """What an attacker who can write to _staging/ would put in a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_parts_read_back_as_staged(tmp_path):
    articles = [staged(n) for n in range(5)] + [staged(9)._replace(dedup=b"\x02\x00")]
    path = stage(tmp_path, articles)
    assert list(read_parts([path])) == articles
    with open(path, "rb") as fh:  # an Avro container any reader can open: data only
        assert len(list(fastavro.reader(fh))) == 6


def test_a_crafted_pickle_in_place_of_a_part_is_refused_never_executed(tmp_path):
    path = stage(tmp_path, [staged(1)])
    marker = tmp_path / "executed"
    Path(path).write_bytes(pickle.dumps([_Payload(marker)]))
    with pytest.raises(StagingCorrupt, match=f"{path}.*not a staged part"):
        list(read_parts([path]))
    assert not marker.exists()


def test_a_part_of_another_shape_is_refused(tmp_path):
    path = stage(tmp_path, [staged(1)])
    other = {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "string"}]}
    buffer = io.BytesIO()
    fastavro.writer(buffer, other, [{"x": "y"}])
    Path(path).write_bytes(buffer.getvalue())
    with pytest.raises(StagingCorrupt, match=path):
        list(read_parts([path]))


@pytest.mark.parametrize(
    "destination",
    ["../../etc/passwd", "articles/dt=2025-08-29/../../../x", "articles/region=Asia Pacific", ""],
)
def test_a_part_naming_a_place_outside_the_lakes_vocabulary_is_refused(tmp_path, destination):
    path = stage(tmp_path, [staged(1)])
    forged = stage(tmp_path / "forged", [staged(1, destination=f"{GROUP}/topic=politics")])
    with open(forged, "rb") as fh:
        records = list(fastavro.reader(fh))
        schema = fastavro.reader(io.BytesIO(Path(forged).read_bytes())).writer_schema
    records[0]["destination"] = destination
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, records)
    Path(path).write_bytes(buffer.getvalue())
    with pytest.raises(StagingCorrupt, match="destination"):
        list(read_parts([path]))


def test_publishing_a_crafted_part_fails_the_run_and_runs_nothing(tmp_path):
    path = stage(tmp_path, [staged(1)])
    marker = tmp_path / "executed"
    Path(path).write_bytes(pickle.dumps([_Payload(marker)]))
    output = LakeOutput(str(tmp_path / "lake"), str(tmp_path / "staging"), "run")
    with pytest.raises(Exception, match="not a staged part"), TestPipeline() as p:
        _ = (
            p
            | beam.Create([(GROUP, [path])], reshuffle=False)
            | beam.ParDo(_PublishGroupFn(output, 100), None)
        )
    assert not marker.exists()
    assert not (tmp_path / "lake").exists()
