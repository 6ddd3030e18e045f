"""``python -m tests.support.slow_deletes SECONDS feedlake-args...``: run a feedlake command
with every file deletion (``os.unlink``, ``os.remove``) taking ``SECONDS`` longer, so that a
compaction's swap lasts long enough for a reader in another process to meet it mid-way.

A test-only hook, outside the product: the command runs unchanged, only the process's own
deletions are slowed (the issue's reader failures were seen with 20 ms a delete).
"""

from __future__ import annotations

import os
import sys
import time


def _slowed(delete, seconds: float):
    def slow(path, *args, **kwargs):
        time.sleep(seconds)
        return delete(path, *args, **kwargs)

    return slow


def main() -> int:
    seconds = float(sys.argv[1])
    os.unlink = _slowed(os.unlink, seconds)
    os.remove = _slowed(os.remove, seconds)
    from pipeline.cli import main as feedlake

    return feedlake(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
