"""How commands read their flags: whole words only, one-line errors with the closest flag or
value, Beam's options passed through."""

from __future__ import annotations

import errno

import pytest

from pipeline.cli.common import UsageError, closest, parse_date
from pipeline.cli.failures import explain_failure
from pipeline.cli.usage import CommandParser


def parser() -> CommandParser:
    made = CommandParser(prog="feedlake try")
    made.add_argument("--lake")
    made.add_argument("--quiet", action="store_true")
    made.add_argument("--codec", choices=["deflate", "snappy", "null"])
    made.add_argument("--dry-run", action="store_true")
    return made


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--lak", "x"], "unknown option --lak: did you mean --lake?"),
        (["--quite"], "unknown option --quite: did you mean --quiet?"),
        (["--dryrun"], "unknown option --dryrun: did you mean --dry-run?"),
        (["--zzzzzz"], "unknown option --zzzzzz. See 'feedlake try --help'"),
        (["--codec", "snapy"], "--codec: 'snapy' is not one of deflate, snappy, null; did you"),
        (["--codec", "gzip"], "--codec: 'gzip' is not one of deflate, snappy, null"),
        (["--runer", "DirectRunner"], "did you mean --runner?"),
    ],
)
def test_a_mistake_is_one_usage_error_naming_the_closest(argv, says):
    with pytest.raises(UsageError) as refused:
        parser().parse_known_args(argv)
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_beam_options_pass_through():
    args, rest = parser().parse_known_args(["--lake", "l", "--runner", "DirectRunner"])
    assert (args.lake, rest) == ("l", ["--runner", "DirectRunner"])


def test_closest_is_none_when_nothing_is_near():
    assert closest("--xyz", ["--lake", "--quiet"]) is None


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
def test_a_date_beyond_the_range_is_a_usage_error(text):
    with pytest.raises(UsageError, match=f"--since {text} is out of range"):
        parse_date(text, "--since")


def test_a_full_disk_under_beams_wrapping_is_named_with_the_lake_and_the_step():
    beam = RuntimeError(
        "OSError: [Errno 28] No space left on device [while running 'Publish articles/"
        "Publish kept articles/ParDo(_PublishGroupFn)']"
    )
    failed = RuntimeError("run r1 failed in the pipeline")
    failed.__cause__ = beam
    line = explain_failure(failed, "/srv/lake", "r1")
    assert line.startswith("run r1 failed: no space left on device writing the lake /srv/lake")
    assert "in step 'Publish articles'" in line and "nothing was committed" in line
    quota = RuntimeError(f"OSError: [Errno {errno.EDQUOT}] x [while running 'Write the index/x']")
    assert "disk quota exceeded writing the lake /srv/lake in step 'Write the index'" in (
        explain_failure(quota, "/srv/lake", "r1")
    )
    assert explain_failure(ValueError("a bug"), "/srv/lake", "r1") is None
    at_commit = OSError(errno.ENOSPC, "No space left on device", "/srv/lake/_runs/r1.json")
    assert explain_failure(at_commit, "/srv/lake", "r1") is None  # its own message names it
