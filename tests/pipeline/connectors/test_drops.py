"""ReadDrops under TestPipeline: what a drop element holds for files as they come."""

from __future__ import annotations

import hashlib

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.drops import ReadDrops, file_sha256
from tests.support.drops import BEYOND_ONE_READ, numbered_lines


def test_a_compressed_drop_beyond_one_read_arrives_whole(tmp_path):
    data = numbered_lines(BEYOND_ONE_READ)
    path = str(tmp_path / "milosi-2025-08-29.txt.gz")
    with FileSystems.create(path, compression_type=CompressionTypes.AUTO) as fh:
        fh.write(data)
    expected = [(path, len(data), hashlib.sha256(data).hexdigest())]
    assert file_sha256(path) == expected[0][2]
    with TestPipeline() as p:
        drops = p | ReadDrops([path])
        assert_that(drops | beam.Map(lambda d: (d.uri, d.size, d.sha256)), equal_to(expected))


def test_each_named_file_is_read_as_itself_never_as_a_glob(tmp_path):
    odd, plain = tmp_path / "milosi[1]-2025-08-29.txt", tmp_path / "milosi1-2025-08-29.txt"
    odd.write_bytes(b"bracketed")
    plain.write_bytes(b"plain")
    with TestPipeline() as p:
        drops = p | ReadDrops([str(odd), str(plain)])
        assert_that(
            drops | beam.Map(lambda d: (d.uri, d.data)),
            equal_to([(str(odd), b"bracketed"), (str(plain), b"plain")]),
        )
