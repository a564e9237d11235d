"""Semantic search: what a score says in words (:mod:`.extract`), embedded and ranked by
meaning (:mod:`.service`)."""
