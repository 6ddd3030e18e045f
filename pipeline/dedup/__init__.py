"""The duplicate decision: articles sketched (:mod:`~pipeline.dedup.sketch`), copies joined
into clusters (:mod:`~pipeline.dedup.clusters`) and decided against the lake's history in one
step (:mod:`~pipeline.dedup.decide`), or in shards across workers
(:mod:`~pipeline.dedup.in_shards`, over the pure steps of :mod:`~pipeline.dedup.nodes` and
:mod:`~pipeline.dedup.shard_steps`)."""
