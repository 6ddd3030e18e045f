"""The charts of ``feedlake inspect --html``: Vega-Lite specs (altair) of what a lake holds.

Guarantees: each chart answers one question, and says so in a sentence where it has nothing
to draw (a lake without feeds, a lake whose folders hold one file each) instead of drawing an
empty or misleading chart:

- articles per day by region and by topic: each day once on the axis (days as categories up
  to :data:`DAYS_AS_CATEGORIES` days, a time axis beyond); the :data:`NAMED` largest regions
  or topics by name, the others together as ``other`` (their names and counts in the
  tooltip); legends are never cut;
- duplicates and rejects, and feed outcomes, per run (per day of runs beyond
  :data:`RUNS_ONE_BY_ONE` runs);
- the partition folders most in need of compaction: the :data:`FOLDERS_SHOWN` folders with
  the most files (two or more), longest bar first, with their mean file size.

Axes that count (articles, records, feeds, files) have whole-number ticks only.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import altair as alt

__all__ = ["DAYS_AS_CATEGORIES", "FOLDERS_SHOWN", "NAMED", "RUNS_ONE_BY_ONE", "Chart", "charts"]

NAMED = 7
DAYS_AS_CATEGORIES = 62
RUNS_ONE_BY_ONE = 40
FOLDERS_SHOWN = 20
OTHER = "other"
_WIDTH = 640
_HEIGHT = 220
_TICKS = 6  # at most, on a count axis
_CATEGORY_STEP = (12, 48)  # pixels a day or run takes on a category axis, least and most
_FULL_LABELS = alt.Legend(labelLimit=0)
# The kinds of records, each its own colour, far apart on every chart that shows them.
_COLOURS = {"articles": "#4c78a8", "duplicates": "#f58518", "rejects": "#e45756"}


def _kinds(*kinds: str) -> alt.Scale:
    return alt.Scale(domain=list(kinds), range=[_COLOURS[kind] for kind in kinds])


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart of the page: its id, its title, and a Vega-Lite spec or a sentence."""

    id: str
    title: str
    spec: dict[str, Any] | None = None
    note: str = ""


def _whole_ticks(largest: int) -> list[int]:
    """Ticks for a count axis up to ``largest``: whole numbers 1, 2 or 5 times a power of
    ten apart, at most :data:`_TICKS`, the last one at or above ``largest``."""
    step = 1
    while -(-max(largest, 1) // step) > _TICKS - 1:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, ...
    return list(range(0, -(-max(largest, 1) // step) * step + 1, step))


def _count(field: str, title: str, rows: list[dict[str, Any]], by: str | None) -> dict:
    """The encoding of a count axis summing ``field`` of ``rows`` (stacked by ``by``'s
    values): whole-number ticks only, and a domain that ends on a tick, so nothing is cut."""
    totals: Counter = Counter()
    for row in rows:
        totals[row[by] if by else id(row)] += row[field]
    ticks = _whole_ticks(max(totals.values(), default=0))
    return {
        "axis": alt.Axis(title=title, values=ticks, format="d"),
        "scale": alt.Scale(domain=[0, ticks[-1]]),
    }


def _grouped(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows of (dt, key, articles), the :data:`NAMED` largest keys by name and the others
    summed per day as ``other``, with the names summed in ``names``."""
    totals = Counter()
    for row in rows:
        totals[row[key]] += row["articles"]
    ranked = [name for name, _ in totals.most_common()]
    named = set(ranked if len(ranked) <= NAMED + 1 else ranked[:NAMED])
    days: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for row in rows:
        group = row[key] if row[key] in named else OTHER
        days[str(row["dt"]), group][row[key]] += row["articles"]
    return [
        {
            "dt": day,
            key: group,
            "articles": sum(names.values()),
            "names": ", ".join(f"{name} {n}" for name, n in names.most_common()),
        }
        for (day, group), names in sorted(days.items())
    ]


def _day_axis(field: str, days: set[str], title: str) -> alt.X:
    """Days as categories, each once, when few; as time when many."""
    if len(days) <= DAYS_AS_CATEGORIES:
        return alt.X(f"{field}:O", title=title, axis=alt.Axis(labelAngle=-40, labelLimit=0))
    return alt.X(f"yearmonthdate({field}):T", title=title)


def _base(rows: list[dict[str, Any]], x: alt.X) -> alt.Chart:
    """A chart of ``rows``: a category axis gives each value a bar of its own width (one
    day is a bar, not the whole width), a time axis the chart's width."""
    width: Any = _WIDTH
    if str(x.shorthand).endswith(":O"):
        values = len({row[x.shorthand.split(":")[0]] for row in rows})
        least, most = _CATEGORY_STEP
        width = alt.Step(max(least, min(most, _WIDTH // max(values, 1))))
    return alt.Chart(alt.Data(values=rows)).properties(width=width, height=_HEIGHT)


def _daily(rows: list[dict[str, Any]], key: str, title: str) -> Chart:
    grouped = _grouped(rows, key)
    if not grouped:
        return Chart(f"by_{key}", title, note="No article yet.")
    order = [r[key] for r in sorted(grouped, key=lambda r: (r[key] == OTHER, -r["articles"]))]
    x = _day_axis("dt", {r["dt"] for r in grouped}, "published date")
    spec = (
        _base(grouped, x)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("sum(articles):Q", **_count("articles", "articles", grouped, "dt")),
            color=alt.Color(
                f"{key}:N",
                title=key,
                sort=list(dict.fromkeys(order)),
                scale=alt.Scale(scheme="tableau10"),
                legend=_FULL_LABELS,
            ),
            tooltip=["dt:N", alt.Tooltip("names:N", title=key), "articles:Q"],
        )
    )
    return Chart(f"by_{key}", title, spec.to_dict())


def _runs_axis(runs: list[dict[str, Any]]) -> tuple[str, alt.X]:
    """The x axis of per-run charts: each run by its start, or each day of runs."""
    if len(runs) <= RUNS_ONE_BY_ONE:
        axis = alt.Axis(labelAngle=-40, labelLimit=0)
        return "per run", alt.X("when:O", title="run (start, UTC)", axis=axis)
    days = {_when(run, False) for run in runs}
    return "per day of runs", _day_axis("when", days, "day the runs started (UTC)")


def _when(run: dict[str, Any], one_by_one: bool, to_the_ms: bool = False) -> str:
    """A run's place on the x axis: its start to the second (to the millisecond when two runs
    started in the same second), or its day."""
    if not one_by_one:
        return run["started"][:10]
    return run["started"][: 23 if to_the_ms else 19].replace("T", " ")


def _runs_chart(
    chart: tuple[str, str, str],
    runs: list[dict[str, Any]],
    counts_of: Callable[[dict[str, Any]], dict[str, int]],
    y_title: str,
    scale: alt.Scale | None = None,
) -> Chart:
    """Stacked bars of what ``counts_of`` counts in a run, for each run (or each day of
    runs); ``chart`` is the id, the title's start and what to say when nothing is counted."""
    chart_id, title, empty = chart
    per, x = _runs_axis(runs)
    one_by_one = len(runs) <= RUNS_ONE_BY_ONE
    to_the_ms = one_by_one and len({_when(run, True) for run in runs}) < len(runs)
    summed: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for run in runs:
        for what, n in counts_of(run).items():
            summed[_when(run, one_by_one, to_the_ms), what].update({"count": n, "runs": 1})
    if not any(totals["count"] for totals in summed.values()):
        return Chart(chart_id, f"{title} {per}", note=empty)
    rows = [
        {"when": when, "what": what, "count": totals["count"], "runs": totals["runs"]}
        for (when, what), totals in sorted(summed.items())
    ]
    colour = alt.Color("what:N", title=None, legend=_FULL_LABELS, scale=scale or alt.Undefined)
    spec = (
        _base(rows, x)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("sum(count):Q", **_count("count", y_title, rows, "when")),
            color=colour,
            tooltip=["when:N", "what:N", "count:Q", "runs:Q"],
        )
    )
    return Chart(chart_id, f"{title} {per}", spec.to_dict())


def _compaction(partitions: list[dict[str, Any]]) -> Chart:
    title = "Partition folders most in need of compaction"
    crowded = sorted(
        (p for p in partitions if p["files"] > 1), key=lambda p: (-p["files"], p["partition"])
    )
    if not crowded:
        note = f"All {len(partitions):,} partition folders hold one file each: nothing to compact."
        return Chart("compaction", title, note=note if partitions else "No data file yet.")
    rows = [
        {
            "folder": f"{p['kind']}/{p['partition']}",
            "kind": p["kind"],
            "files": p["files"],
            "records": p["records"],
            "mean_kb": round(p["bytes"] / p["files"] / 1000, 1),
        }
        for p in crowded[:FOLDERS_SHOWN]
    ]
    spec = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("folder:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
            x=alt.X(
                "files:Q",
                **_count("files", "files in the folder (feedlake compact merges them)", rows, None),
            ),
            color=alt.Color("kind:N", title="kind", scale=_kinds(*_COLOURS), legend=_FULL_LABELS),
            tooltip=[
                "folder:N",
                "files:Q",
                "records:Q",
                alt.Tooltip("mean_kb:Q", title="mean KB a file"),
            ],
        )
        .properties(width=_WIDTH)
    )
    note = f"{len(crowded)} of {len(partitions)} partition folders hold more than one file" + (
        f"; the {FOLDERS_SHOWN} with the most:" if len(crowded) > FOLDERS_SHOWN else ":"
    )
    return Chart("compaction", title, spec.to_dict(), note)


def charts(report: dict[str, Any]) -> list[Chart]:
    """Every chart of the page, in order, from an ``inspect_lake(..., daily=True)`` report."""
    return [
        _daily(report["articles_by_dt_region"], "region", "Articles per day by region"),
        _daily(report["articles_by_dt_topic"], "topic", "Articles per day by topic"),
        _runs_chart(
            ("per_run", "Duplicates and rejects", "No run has found a duplicate or a reject."),
            report["runs"],
            lambda run: {kind: run[kind] for kind in ("duplicates", "rejects")},
            "records",
            _kinds("duplicates", "rejects"),
        ),
        _runs_chart(
            ("feeds", "Feed outcomes", "No run has read a feed."),
            report["runs"],
            lambda run: run["feeds_by_outcome"],
            "feeds",
        ),
        _compaction(report["partitions"]),
    ]
