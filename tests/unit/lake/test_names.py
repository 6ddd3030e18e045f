"""The names feedlake makes paths of: run ids of one safe form, staging folders' names that
read back to the run and the lease generation they were made of, and nothing else."""

from __future__ import annotations

import pytest

from pipeline.lake.names import (
    RUN_ID_MAX,
    is_run_id,
    parse_staging_name,
    run_id_problem,
    staging_name,
)

NOT_RUN_IDS = [
    "",
    ".",
    "..",
    "*",
    "[a]",
    "a?",
    "a/b",
    "a\\b",
    ".hidden",
    "-flag",
    "_x",
    "a@1",
    "a b",
    "a\nb",
    "a\x00b",
    "ü",
    "x" * (RUN_ID_MAX + 1),
]


@pytest.mark.parametrize("text", NOT_RUN_IDS)
def test_a_name_that_could_be_a_path_element_or_a_pattern_is_no_run_id(text):
    assert not is_run_id(text)
    assert run_id_problem(text) == (
        f"{text!r} is not a run id: a run id is 1 to 128 letters, digits, '.', '_' and '-', "
        "starting with a letter or a digit"
    )
    with pytest.raises(ValueError, match="is not a run id"):
        staging_name(text, 1)


@pytest.mark.parametrize(
    "text",
    ["r", "20261207T050000123Z-compact-0a1b2c3d", "airflow-20261207T050000", "a..b", "x" * 128],
)
def test_run_ids_feedlake_and_schedulers_make_are_run_ids(text):
    assert is_run_id(text) and run_id_problem(text) is None


@pytest.mark.parametrize("generation", [0, 1, 12, 10**17])
def test_a_staging_name_reads_back_as_its_run_and_generation(generation):
    assert parse_staging_name(staging_name("run-1.a", generation)) == ("run-1.a", generation)


@pytest.mark.parametrize(
    "name", ["run", "*", "run@", "@1", "run@-1", "run@1x", "run@ 1", "..@1", "a/b@1", "r@1@2"]
)
def test_a_staging_entry_feedlake_could_not_have_made_reads_as_none(name):
    assert parse_staging_name(name) is None
