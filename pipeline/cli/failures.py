"""What a failed run says when the cause is the machine, not the data or the code.

Guarantees: a run whose pipeline failed because its filesystem is full (``ENOSPC``) or over
quota (``EDQUOT``) is one line naming the lake, the step that was writing (from Beam's
``[while running '...']``) and what to do; any other failure keeps its own message.
"""

from __future__ import annotations

import errno
import os
import re

__all__ = ["explain_failure"]

_FULL = {
    errno.ENOSPC: os.strerror(errno.ENOSPC),
    errno.EDQUOT: os.strerror(errno.EDQUOT),
}
_STEP = re.compile(r"\[while running '([^'/]+)")


def _chain(error: BaseException | None):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def explain_failure(error: BaseException, lake: str, run_id: str) -> str | None:
    """The one line for a run whose pipeline failed because the lake's storage is full, else
    None (a failure outside the pipeline, at the commit say, already names its file)."""
    for link in _chain(error):
        text = str(link)
        step = _STEP.search(text)
        full = [why for code, why in _FULL.items() if f"[Errno {code}]" in text]
        if step and full:
            return (
                f"run {run_id} failed: {full[0].lower()} writing the lake {lake} in step "
                f"'{step[1]}'; nothing was committed; free space there (df {lake}) and run again"
            )
    return None
