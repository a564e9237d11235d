-- Semantic search (persistence/vectors): per score, texts with their sentence embedding.
-- Vectors are real[] ranked by a dot product in SQL (pgvector is not packaged for
-- Debian 12's PostgreSQL 15; see docs/search.md).
CREATE TABLE semantic_vectors (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    embedding REAL[] NOT NULL,
    PRIMARY KEY (score_id, kind, ref)
);
CREATE INDEX semantic_vectors_model ON semantic_vectors (model);
