"""feedlake's version, as installed (``0+unknown`` in a checkout that was never installed)."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

__all__ = ["__version__"]

try:
    __version__ = _version("feedlake")
except PackageNotFoundError:
    __version__ = "0+unknown"
