"""Read the lake with DuckDB: its Avro extension from PyPI, loaded from the package's own file.

Nothing is downloaded: autoinstall and autoload are off and the extension binary comes from the
``duckdb-extension-avro`` wheel, which is built for this exact DuckDB version. Tables are views
over ``read_avro(..., hive_partitioning = true)``, so partition folders become columns.
DuckDB cannot union Avro files by name: a view takes the first file's schema, so a lake whose
files mix schema versions shows the columns they share with the first one.
"""

from __future__ import annotations

import os

import duckdb
import duckdb_extension_avro

__all__ = ["KINDS", "connect", "lake_views"]

KINDS = ("articles", "duplicates", "rejects")


def _extension_path() -> str:
    return os.path.join(
        os.path.dirname(duckdb_extension_avro.__file__),
        "extensions",
        f"v{duckdb.__version__}",
        "avro.duckdb_extension",
    )


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the Avro extension loaded, offline."""
    path = _extension_path()
    if not os.path.exists(path):
        raise RuntimeError(
            f"the DuckDB Avro extension for duckdb {duckdb.__version__} is not installed "
            f"({path} is missing); install duckdb-extension-avro=={duckdb.__version__}"
        )
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.load_extension(path)
    return con


def lake_views(con: duckdb.DuckDBPyConnection, lake: str) -> dict[str, int]:
    """Create the views ``articles``, ``duplicates`` and ``rejects``; files found per view.

    A kind with no file yet gets no view.
    """
    found = {}
    for kind in KINDS:
        files = sorted(
            os.path.join(root, name)
            for root, _dirs, names in os.walk(os.path.join(lake, kind))
            for name in names
            if name.endswith(".avro")
        )
        found[kind] = len(files)
        if files:
            glob = os.path.join(lake, kind, "**", "*.avro").replace("'", "''")
            con.execute(
                f"CREATE OR REPLACE VIEW {kind} AS "
                f"SELECT * FROM read_avro('{glob}', hive_partitioning = true)"
            )
    return found
