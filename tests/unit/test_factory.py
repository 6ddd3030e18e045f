"""The run's config refuses what its report could not count: two inputs of one name."""

from __future__ import annotations

import pytest

from pipeline.factory import JobConfig, repeated_inputs
from tests.conftest import RUN


def test_an_input_named_twice_is_refused_with_its_name_before_the_run():
    with pytest.raises(ValueError, match=r"/d/a\.rss is given more than once"):
        JobConfig(drops=("/d/a.rss",), feeds=("/d/./a.rss",), lake="/lake", run=RUN)
    with pytest.raises(ValueError, match=r"/d/a\.txt is given more than once"):
        JobConfig(drops=("/d/a.txt", "/d/a.txt"), lake="/lake", run=RUN)
    assert repeated_inputs(["/d/a.txt"], ["https://example.org/a.txt", "/d/b.rss"]) == []
