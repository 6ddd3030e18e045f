"""``python -m pipeline.cli``: the ``feedlake`` command without the console script."""

import sys

from pipeline.cli import main

sys.exit(main())
