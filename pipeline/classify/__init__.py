"""Classification: where a story happens (:mod:`~pipeline.classify.gazetteer`: datelines,
mentions, declared regions) and what it is about (:mod:`~pipeline.classify.topics`: IPTC Media
Topics), both over one phrase lookup (:mod:`~pipeline.classify.phrases`), applied by
:mod:`~pipeline.classify.classifier`. The tables ship in ``pipeline/classify/data/``."""
