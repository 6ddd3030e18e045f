"""Every read from the outside world: drop files (:mod:`~connectors.drops`, listed by
:mod:`~connectors.drop_listing`) and feeds (:mod:`~connectors.feeds`, fetched by
:mod:`~connectors.http`), handed to the pipeline as :mod:`~connectors.inputs`.

The connectors know neither the pipeline nor the lake: what a lake already holds (the feed
items it has, each feed's validators) comes in from the caller."""
