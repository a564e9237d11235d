"""Sentence vectors for semantic search: the :class:`~.base.VectorStore` protocol and one
module per backend (memory, SQLite, PostgreSQL)."""
