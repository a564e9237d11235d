-- 0010 semantic vectors in pgvector: the embedding column becomes pgvector's `vector`
-- (any dimension: each row's model fixes it), ranked by its inner-product operator `<#>`
-- in C instead of a dot product over unnest() in SQL. Needs the extension on the
-- server (Debian 13: postgresql-17-pgvector; elsewhere scripts/install-pgvector).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        RAISE EXCEPTION 'the pgvector extension is not installed on this PostgreSQL server'
            USING HINT = 'Orpheus keeps semantic-search vectors in pgvector: install it '
                '(Debian/Ubuntu: postgresql-<version>-pgvector; or run scripts/install-pgvector '
                'as root on the database host), then start again';
    END IF;
END
$$;

CREATE EXTENSION IF NOT EXISTS vector;

DO $$
BEGIN
    IF to_regtype('vector') IS NULL THEN
        RAISE EXCEPTION 'pgvector is installed in a schema that is not on the search_path'
            USING HINT = 'add the extension''s schema to the search_path of Orpheus''s user';
    END IF;
END
$$;

ALTER TABLE semantic_vectors ALTER COLUMN embedding TYPE vector USING embedding::vector;
