"""``feedlake watch``: the loop that runs a batch whenever something is new
(:mod:`~pipeline.watch.loop`), the events it reports (:mod:`~pipeline.watch.events`), and who
follows them: its log lines (:mod:`~pipeline.watch.log`) and its Prometheus metrics
(:mod:`~pipeline.watch.metrics`)."""
