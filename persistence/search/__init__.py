"""Search indexes: melodic n-grams and full text, one :class:`~persistence.search.base.SearchIndex`
protocol with memory, SQLite (FTS5) and PostgreSQL (``tsvector``) implementations."""
