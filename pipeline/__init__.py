"""feedlake: MIL-OSI drops and RSS/Atom feeds into a deduplicated, partitioned Avro lake.

The packages, one a stage, each importing only from those listed before it:

- :mod:`pipeline.core`: the records that flow between stages, text normalisation, MinHash
  fingerprints, Avro encoding, and the worker's helpers (compiled kernels, the heap);
- :mod:`pipeline.parse`: drops split into segments, segments and feed items parsed into articles;
- :mod:`pipeline.classify`: where a story happens (ISO 3166, UN M49) and what it is about (IPTC);
- :mod:`pipeline.lake`: the lake's format, written and read: paths, files, staging, the index
  and catalog, the manifest, the lease and the commit protocol, compaction, SQL views;
- :mod:`pipeline.dedup`: the duplicate decision, in one step or in shards;
- :mod:`pipeline.factory` (the graph of one run), :mod:`pipeline.jobs` (a run under the
  lease, from the driver) and :mod:`pipeline.validate` (a parse that writes nothing);
- :mod:`pipeline.watch`: ``feedlake watch``'s loop, its log lines and its metrics;
- :mod:`pipeline.cli`: the ``feedlake`` command.

Reading the outside world (drop files, feeds over HTTP) is :mod:`connectors`, below them all.
"""
