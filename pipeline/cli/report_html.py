"""The lake in pictures: ``feedlake inspect --html FILE`` writes one self-contained page.

Guarantees: the page opens offline and fetches nothing: the charts are Vega-Lite specs
(altair) with their data inline, and vega, vega-lite and vega-embed are inlined from
``vl-convert-python``'s bundle. It draws, from what :func:`pipeline.lake.inspect.inspect_lake`
reads: articles per day by region and by topic, duplicates and rejects per run, feed outcomes
per run over time, and each partition's files against its mean file size (small-file health:
many small files in a partition slow every reader). A lake with nothing yet gives empty
charts, not an error.
"""

from __future__ import annotations

import html
from typing import Any

import altair as alt

__all__ = ["chart_rows", "lake_charts", "lake_report_html"]

_WIDTH = 640
_HEIGHT = 220
# Runs in the order they started (ISO times sort so), labelled by their start.
_RUN_AXIS = alt.X("run:O", title="run (start, UTC)", axis=alt.Axis(labelAngle=-40))


def chart_rows(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rows each chart draws, from an ``inspect_lake(..., daily=True)`` report."""
    runs = [{**run, "run": run["started"][:19].replace("T", " ")} for run in report["runs"]]
    return {
        "by_region": report["articles_by_dt_region"],
        "by_topic": report["articles_by_dt_topic"],
        "per_run": [
            {"run": run["run"], "run_id": run["run_id"], "what": what, "count": run[what]}
            for run in runs
            for what in ("duplicates", "rejects")
        ],
        "feeds": [
            {"run": run["run"], "run_id": run["run_id"], "outcome": outcome, "feeds": n}
            for run in runs
            for outcome, n in run["feeds_by_outcome"].items()
        ],
        "partitions": [
            {
                "kind": row["kind"],
                "partition": f"{row['kind']}/{row['partition']}".rstrip("/"),
                "files": row["files"],
                "records": row["records"],
                "mean_file_bytes": row["bytes"] // row["files"],
            }
            for row in report["partitions"]
        ],
    }


def _chart(rows: list[dict[str, Any]], title: str) -> alt.Chart:
    return alt.Chart(alt.Data(values=rows), title=title).properties(width=_WIDTH, height=_HEIGHT)


def _daily(rows: list[dict[str, Any]], key: str, title: str) -> alt.Chart:
    return (
        _chart(rows, title)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(dt):T", title="published date"),
            y=alt.Y("sum(articles):Q", title="articles"),
            color=alt.Color(f"{key}:N", scale=alt.Scale(scheme="category20"), title=key),
            tooltip=["dt:N", f"{key}:N", "articles:Q"],
        )
    )


def lake_charts(report: dict[str, Any]) -> alt.VConcatChart:
    """Every chart of the page, one above the other."""
    rows = chart_rows(report)
    per_run = (
        _chart(rows["per_run"], "Duplicates and rejects per run")
        .mark_bar()
        .encode(
            x=_RUN_AXIS,
            xOffset="what:N",
            y=alt.Y("count:Q", title="records"),
            color=alt.Color("what:N", title=None),
            tooltip=["run_id:N", "what:N", "count:Q"],
        )
    )
    feeds = (
        _chart(rows["feeds"], "Feed outcomes per run")
        .mark_bar()
        .encode(
            x=_RUN_AXIS,
            y=alt.Y("sum(feeds):Q", title="feeds"),
            color=alt.Color("outcome:N", title="outcome"),
            tooltip=["run_id:N", "outcome:N", "feeds:Q"],
        )
    )
    partitions = (
        _chart(rows["partitions"], "Files per partition against their mean size")
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("files:Q", title="files in the partition"),
            y=alt.Y("mean_file_bytes:Q", title="mean bytes per file", scale=alt.Scale(type="log")),
            color=alt.Color("kind:N", title="kind"),
            tooltip=["partition:N", "files:Q", "records:Q", "mean_file_bytes:Q"],
        )
    )
    return alt.vconcat(
        _daily(rows["by_region"], "region", "Articles per day by region"),
        _daily(rows["by_topic"], "topic", "Articles per day by topic"),
        per_run,
        feeds,
        partitions,
        title=alt.Title(
            f"feedlake: {report['lake']}",
            subtitle=f"{len(report['runs'])} runs; data files: "
            + ", ".join(f"{n} {kind}" for kind, n in report["files"].items()),
            anchor="start",
        ),
    ).resolve_scale(color="independent")


def lake_report_html(report: dict[str, Any]) -> str:
    """The whole page: the charts with every script they need inlined."""
    page = lake_charts(report).to_html(inline=True, embed_options={"actions": False})
    title = html.escape(f"feedlake: {report['lake']}")
    return page.replace("<head>", f"<head>\n<title>{title}</title>", 1)
