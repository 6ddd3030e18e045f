"""The lake in pictures: ``feedlake inspect --html FILE`` writes one self-contained page.

Guarantees: the page opens offline and fetches nothing: the charts
(:mod:`pipeline.cli.report_charts`) are Vega-Lite specs with their data inline, drawn as SVG
by vega, vega-lite and vega-embed, inlined from ``vl-convert-python``'s bundle.

Nothing from the lake, the command line or the file system (the lake's path, folder names,
run ids, outcomes, reasons, regions, topics, dates) can run in the page or end an element
early: it reaches the page as HTML text escaped by :func:`html.escape`, or inside one JSON
document (:func:`script_json`) whose ``<``, ``>``, ``&`` and line separators are written as
``\\u`` escapes, so that neither ``</script>`` nor ``<!--`` can appear in a script element;
the page parses it with ``JSON.parse``, and vega draws text as text.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pipeline.cli.output import files_text
from pipeline.cli.report_charts import Chart, charts

__all__ = ["lake_report_html", "script_json"]

_IN_SCRIPT = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.4em; overflow-wrap: anywhere; }
h2 { font-size: 1.1em; margin: 1.6em 0 0.4em; }
.note { color: #555; }
li { overflow-wrap: anywhere; }
"""
_DRAW = """
const specs = JSON.parse(document.getElementById("feedlake-charts").textContent);
for (const [id, spec] of Object.entries(specs)) {
  vegaEmbed(document.getElementById(id), spec, {renderer: "svg", actions: false})
    .catch(console.error);
}
"""


def script_json(value: Any) -> str:
    """``value`` as JSON that can stand inside a ``<script>`` element: no character of it
    can close the element, open a comment or end a line of the script."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return "".join(_IN_SCRIPT.get(char, char) for char in text)


def _vega_scripts() -> str:
    """vega, vega-lite and vega-embed, for the Vega-Lite version altair writes."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())
    return bundle.replace("</script", "<\\/script")  # none today; never able to end the element


def _headline(report: dict[str, Any]) -> str:
    held = ", ".join(
        f"{count:,} {kind} in {files_text(report['files'][kind])}"
        for kind, count in report["records"].items()
    )
    runs = len(report["runs"])
    return f"{held}; {runs:,} {'run' if runs == 1 else 'runs'}"


def _skipped(report: dict[str, Any]) -> str:
    if not report["skipped"]:
        return ""
    items = "".join(
        f"<li>{html.escape(folder['folder'])} ({files_text(folder['files'])})</li>"
        for folder in report["skipped"]
    )
    return (
        '<p class="note">Folders that are not partitions feedlake writes, left out of every '
        f"count:</p><ul>{items}</ul>"
    )


def _section(chart: Chart) -> str:
    note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
    drawing = f'<div id="{chart.id}"></div>' if chart.spec else ""
    return f"<section><h2>{html.escape(chart.title)}</h2>{note}{drawing}</section>"


def lake_report_html(report: dict[str, Any]) -> str:
    """The whole page, from an ``inspect_lake(..., daily=True)`` report."""
    drawn = charts(report)
    title = html.escape(f"feedlake: {report['lake']}")
    specs = {chart.id: chart.spec for chart in drawn if chart.spec}
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            f"<title>{title}</title>",
            f"<style>{_STYLE}</style>",
            f"<script>\n{_vega_scripts()}\n</script>",
            "</head>",
            "<body>",
            f"<h1>{title}</h1>",
            f"<p>{html.escape(_headline(report))}</p>",
            _skipped(report),
            *(_section(chart) for chart in drawn),
            f'<script type="application/json" id="feedlake-charts">{script_json(specs)}</script>',
            f"<script>{_DRAW}</script>",
            "</body>",
            "</html>",
        ]
    )
