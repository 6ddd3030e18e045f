"""What every stage shares: the records that flow between them (:mod:`~pipeline.core.records`),
text normalisation (:mod:`~pipeline.core.text`), MinHash fingerprints, which the lake's index
stores (:mod:`~pipeline.core.minhash`), Avro encoding compiled from the schemas
(:mod:`~pipeline.core.avro_binary`), and the worker's helpers (compiled kernels, the heap,
windows for ``finish_bundle``). Imports nothing else of feedlake but :mod:`connectors` and
:mod:`schemas`."""
