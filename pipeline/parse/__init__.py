"""The parser: drops cut into article segments at their line structure
(:mod:`~pipeline.parse.split`, by the patterns of :mod:`~pipeline.parse.layout`), each segment
parsed into an article or a reject (:mod:`~pipeline.parse.articles`: the title, header and
closing lines around the body are read by :mod:`~pipeline.parse.frame`, the language by
:mod:`~pipeline.parse.language`), and feed items parsed the same way
(:mod:`~pipeline.parse.feed_items`)."""
