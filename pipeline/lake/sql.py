"""Read the lake with DuckDB: its Avro extension from PyPI, loaded from the package's own file.

Nothing is downloaded: autoinstall and autoload are off and the extension binary comes from the
``duckdb-extension-avro`` wheel, which is built for this exact DuckDB version. Tables are views
over ``read_avro(..., hive_partitioning = true)``, so partition folders become columns. A lake
on S3 or GCS is read through ``httpfs`` (:mod:`pipeline.lake.sql_stores`), its files listed
by Beam's filesystems with the options ``run`` takes. Every file is read by its name, as
:func:`pipeline.lake.listing.list_lake` lists it: folders that are not partitions feedlake
writes are left out, and a compaction's swap shows one state.

Guarantees: the tables ``articles``, ``duplicates`` and ``rejects`` always exist. A lake
written with several ``--partition-by`` layouts (DuckDB refuses to mix them in one read) is
read one layout at a time, unioned by column name, a key a layout lacks being NULL. A kind
with no file yet is an empty table with the record's columns (from ``schemas/``) and its
partition columns. DuckDB cannot union Avro files by name: a view takes the first file's
schema, so a lake whose files mix schema versions shows the columns they share with the
first one.
"""

from __future__ import annotations

import os
import tempfile

import duckdb
import duckdb_extension_avro
import fastavro

import schemas
from pipeline.lake.listing import KINDS, Listing, list_lake
from pipeline.lake.sql_stores import read_from_store

__all__ = ["KINDS", "connect", "lake_views", "partition_keys"]

RECORDS = {"articles": "Article", "duplicates": "Article", "rejects": "Reject"}
# The partition columns of the default layout (pipeline.lake.paths.PARTITION_KEYS for articles).
EMPTY_PARTITIONS = {
    "articles": ("dt", "region", "topic"),
    "duplicates": ("dt",),
    "rejects": ("dt",),
}


def _extension_path() -> str:
    return os.path.join(
        os.path.dirname(duckdb_extension_avro.__file__),
        "extensions",
        f"v{duckdb.__version__}",
        "avro.duckdb_extension",
    )


def connect(lake: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the Avro extension loaded, offline; able to read ``lake``'s
    object store when it is on one."""
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
    if lake is not None and "://" in lake:
        read_from_store(con, lake)
    return con


def lake_views(
    con: duckdb.DuckDBPyConnection, lake: str, listing: Listing | None = None
) -> dict[str, int]:
    """Create the tables ``articles``, ``duplicates`` and ``rejects`` over the files of
    ``listing`` (the lake listed now when None); files read per table."""
    listing = listing or list_lake(lake)
    found = {}
    for kind in KINDS:
        layouts: dict[tuple[str, ...], list[str]] = {}
        for file in listing.of(kind):
            layouts.setdefault(partition_keys(file.folder), []).append(file.path)
        found[kind] = sum(len(paths) for paths in layouts.values())
        if layouts:
            reads = [_read_layout(keys, layouts[keys]) for keys in sorted(layouts)]
            con.execute(f"CREATE OR REPLACE VIEW {kind} AS {' UNION ALL BY NAME '.join(reads)}")
        else:
            _empty_table(con, kind)
    return found


def partition_keys(folder: str) -> tuple[str, ...]:
    """The keys of a Hive partition path: ``region=asia/dt=2025-08-29`` -> (region, dt)."""
    return tuple(part.split("=", 1)[0] for part in folder.split("/") if "=" in part)


def _read_layout(keys: tuple[str, ...], paths: list[str]) -> str:
    """One layout's files, read by their names: a glob would list the folder again (and
    take files the listing left out) and read a ``*`` or ``[`` in the lake's name as a
    pattern."""
    names = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    return f"SELECT * FROM read_avro([{names}], hive_partitioning = {str(bool(keys)).lower()})"


def _empty_table(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """An empty table typed as DuckDB reads the kind's files: an empty Avro file written
    with the record's schema, and the default layout's partition columns."""
    columns = ", ".join(
        f"NULL::{'DATE' if key == 'dt' else 'VARCHAR'} AS {key}" for key in EMPTY_PARTITIONS[kind]
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{kind}.avro")
        with open(path, "wb") as fh:
            fastavro.writer(fh, fastavro.parse_schema(schemas.expanded(RECORDS[kind])), [])
        con.execute(
            f"CREATE OR REPLACE TABLE {kind} AS SELECT *, {columns} FROM read_avro('{path}')"
        )
