"""The watcher's observers on their own: health against the clock, arrival-to-commit seconds
from the manifest, which lines each verbosity keeps, and the JSON line's fields."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from pipeline.cli.logs import JsonFormatter, configure
from pipeline.watch.log import WatchLog
from pipeline.watch.metrics import WatchMetrics

POLL = 60.0


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def manifest(run_id: str = "r1", drops_modified: tuple[float, ...] = ()) -> dict:
    counts = {
        "drops": len(drops_modified),
        "feeds": 0,
        "articles": 4,
        "duplicates": 2,
        "rejects": 1,
        "duplicates_by_kind": {"exact": 1, "near": 1},
        "rejects_by_reason": {"no_body": 1},
    }
    inputs = [
        {
            "type": "drop",
            "modified": dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(),
        }
        for t in drops_modified
    ]
    return {"run_id": run_id, "seconds": 2.5, "counts": counts, "inputs": inputs}


def test_health_is_ok_while_polls_are_recent_and_503_once_they_stop():
    clock = Clock()
    metrics = WatchMetrics(POLL, clock=clock)
    assert metrics.health()[0]
    clock.now += metrics.stale_after - 1
    assert metrics.health()[0]
    clock.now += 2
    alive, reason = metrics.health()
    assert not alive and reason.startswith("no poll for")
    metrics.polled(0, 0)
    assert metrics.health()[0]
    metrics.stopped()
    assert metrics.health() == (False, "stopped")


def test_a_long_batch_counts_as_alive_and_its_end_as_a_poll():
    clock = Clock()
    metrics = WatchMetrics(POLL, clock=clock)
    metrics.batch_started("r1")
    clock.now += 10 * metrics.stale_after
    assert metrics.health() == (True, "ok: a batch is running")
    metrics.batch_failed("r1", RuntimeError("disk full"))
    assert metrics.health()[0]
    clock.now += metrics.stale_after + 1
    assert not metrics.health()[0]


def test_arrival_to_commit_is_measured_from_each_drops_modification_time():
    clock = Clock()
    metrics = WatchMetrics(POLL, clock=clock)
    metrics.batch_committed(manifest(drops_modified=(clock.now - 30, clock.now - 90)))
    value = metrics.registry.get_sample_value
    assert value("feedlake_drop_arrival_to_commit_seconds_count") == 2
    assert value("feedlake_drop_arrival_to_commit_seconds_sum") == pytest.approx(120)
    assert value("feedlake_drop_arrival_to_commit_seconds_bucket", {"le": "60.0"}) == 1
    assert value("feedlake_duplicates_total", {"kind": "near"}) == 1
    assert value("feedlake_rejects_total", {"reason": "no_body"}) == 1
    assert value("feedlake_last_successful_batch_timestamp_seconds") == clock.now


@pytest.fixture
def restore_logging():
    yield
    configure(quiet=False, verbose=False)


@pytest.mark.parametrize(
    ("verbose", "heartbeat", "per_run_lines"), [(False, False, False), (True, True, True)]
)
def test_a_watcher_logs_heartbeats_and_per_run_lines_only_when_verbose(
    restore_logging, verbose, heartbeat, per_run_lines
):
    configure(quiet=False, verbose=verbose, watching=True)
    assert logging.getLogger("feedlake.watch").isEnabledFor(logging.INFO)
    assert logging.getLogger("feedlake.watch").isEnabledFor(logging.DEBUG) is heartbeat
    for name in ("feedlake", "pipeline.parse.split", "connectors.drops"):
        assert logging.getLogger(name).isEnabledFor(logging.INFO) is per_run_lines


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_failing_feed_is_said_once_and_its_recovery_once(restore_logging):
    configure(quiet=False, verbose=False, watching=True)
    lines = Lines()
    logging.getLogger("feedlake.watch").addHandler(lines)
    log = WatchLog("feeds")
    for outcome in ("ok", "timeout", "timeout", "http_error", "not_modified", "ok"):
        log.feed_polled("http://feeds.example/a.xml", outcome)
    events = [(r.levelname, r.fields["event"]) for r in lines.records]
    assert events == [("WARNING", "feed_failing"), ("INFO", "feed_recovered")]


def test_a_json_line_carries_the_records_fields():
    record = logging.LogRecord(
        "feedlake.watch", logging.INFO, __file__, 1, "batch %s", ("r1",), None
    )
    record.fields = {"event": "batch", "articles": 4}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "batch r1" and line["level"] == "info"
    assert (line["event"], line["articles"], line["logger"]) == ("batch", 4, "feedlake.watch")
    assert dt.datetime.fromisoformat(line["time"]).tzinfo is not None
