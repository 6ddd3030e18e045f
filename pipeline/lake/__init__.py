"""The lake's format, written and read: everything about ``<lake>/``.

Where records go and how they are written:

- :mod:`~pipeline.lake.paths`: kinds, partition folders and file names (controlled values only);
- :mod:`~pipeline.lake.files`: Avro container files, written in staging and renamed into place;
- :mod:`~pipeline.lake.staging`: articles encoded once and staged as parts while dedup decides;
- :mod:`~pipeline.lake.publish`: the transforms that write articles, duplicates and rejects;
- :mod:`~pipeline.lake.index`: what a run adds to the deduplication index and the drop catalog.

What the lake remembers and how it is read:

- :mod:`~pipeline.lake.history`: the index and the catalog, read as a run needs them;
- :mod:`~pipeline.lake.documents`: its small JSON documents, written atomically;
- :mod:`~pipeline.lake.storage`: names taken exactly on each store (deletes by name, a batch
  a request; GCS writes under generation preconditions);
- :mod:`~pipeline.lake.manifest`: a run's manifest, built from what the run staged;
- :mod:`~pipeline.lake.feed_state`: each feed's conditional-GET validators;
- :mod:`~pipeline.lake.description` and :mod:`~pipeline.lake.meta`: ``_lake.json``, and the
  upgrade of an older format;
- :mod:`~pipeline.lake.sql` and :mod:`~pipeline.lake.inspect`: DuckDB views over the lake, and
  what ``feedlake inspect`` counts (:mod:`~pipeline.lake.sql_stores`: on S3 and GCS).

How it stays whole:

- :mod:`~pipeline.lake.lease`: the writer lease, one writer at a time;
- :mod:`~pipeline.lake.commit`: the commit protocol, and recovery from a crash at any step;
- :mod:`~pipeline.lake.tiers`: the index and catalog kept to a few files;
- :mod:`~pipeline.lake.compact`: a partition folder's small files merged into few large ones
  (:mod:`~pipeline.lake.merge`: block by block), committed like a run.
"""
