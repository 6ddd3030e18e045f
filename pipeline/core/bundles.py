"""What a DoFn emits from ``finish_bundle``.

Outside ``process`` there is no element to inherit a window from, so a DoFn that buffers
per bundle (parts, sketch batches) must say where its output lives: the global window, as
everything in a batch run.
"""

from __future__ import annotations

from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

__all__ = ["in_global_window"]


def in_global_window(element) -> WindowedValue:
    """``element`` as ``finish_bundle`` must yield it."""
    return WindowedValue(element, GlobalWindow().max_timestamp(), [GlobalWindow()])
