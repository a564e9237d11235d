"""Sentence embeddings for semantic search: the :class:`Embedder` protocol
(:mod:`.base`), all-MiniLM-L6-v2 run in numpy (:mod:`.minilm`)."""
