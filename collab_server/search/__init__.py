"""Melodic and text search over the scores a caller may read (issue 17): what a document
contributes to the index (:mod:`.extract`), the query side (:mod:`.service`) and the
debounced re-indexing of edited documents (:mod:`.hooks`)."""
