"""feedlake: MIL-OSI drops and RSS/Atom feeds into a deduplicated, partitioned Avro lake."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("feedlake")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
