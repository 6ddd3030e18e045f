"""Entry point of the Dataflow Flex Template: `feedlake run` with the template's parameters.

The launcher passes parameters as --name=value flags; Beam's own (--runner, --project,
--region, --temp_location, --sdk_container_image, ...) pass through unchanged.
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
