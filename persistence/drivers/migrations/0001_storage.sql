-- 0001 storage: the tables behind the storage protocols of persistence/base.py.
-- Metadata lives here; snapshot and version bytes live in the blob store under
-- scores/<score id>/snapshots/... and scores/<score id>/versions/... (blob_key columns).
-- Times are timestamptz; epochs and seqs are bigint.

CREATE TABLE scores (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    title       text NOT NULL DEFAULT '',
    owner       text,  -- the creating principal; not a foreign key (see score_access)
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    epoch       bigint NOT NULL DEFAULT 1
);
COMMENT ON TABLE scores IS
    'Score catalog (ScoreCatalog). epoch changes on reset/restore; writes for older '
    'epochs are refused. Every per-score table cascades from here.';
CREATE INDEX scores_by_created ON scores (created_at, id);
CREATE INDEX scores_by_owner ON scores (owner, created_at) WHERE owner IS NOT NULL;
-- updated_at changes at every append: no index may include it, so that update stays HOT

CREATE TABLE log_heads (
    score_id  text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    epoch     bigint NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (score_id, epoch)
);
COMMENT ON TABLE log_heads IS
    'Last seq handed out per score and epoch. Appends bump it with an upsert '
    '... RETURNING while holding the score row lock, so seqs are gap-free, never reused '
    '(even after a trim) and committed in order.';

CREATE TABLE update_log (
    score_id  text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    epoch     bigint NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 1),
    data      bytea NOT NULL,  -- one Yjs update
    PRIMARY KEY (score_id, epoch, seq)
);
COMMENT ON TABLE update_log IS
    'Append-only Yjs update log (UpdateLog), trimmed once a snapshot covers it.';

CREATE TABLE snapshots (
    score_id         text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    epoch            bigint NOT NULL,
    seq              bigint NOT NULL CHECK (seq >= 0),
    blob_key         text NOT NULL,
    retired_clients  bigint[] NOT NULL DEFAULT '{}',  -- Yjs client ids of older epochs
    size             bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (score_id, epoch, seq)
);
COMMENT ON TABLE snapshots IS
    'Compacted states (SnapshotStore) covering the log through seq; the newest two per '
    'score are kept. The primary key index finds the newest by a backward scan.';

CREATE TABLE versions (
    id          text PRIMARY KEY,
    score_id    text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    ordinal     bigint GENERATED ALWAYS AS IDENTITY,  -- tie-break for equal created_at
    name        text NOT NULL,
    author      text,
    created_at  timestamptz NOT NULL,
    epoch       bigint NOT NULL,
    size        bigint NOT NULL,
    blob_key    text NOT NULL
);
COMMENT ON TABLE versions IS 'Named, immutable snapshots of a score (VersionStore).';
CREATE INDEX versions_by_score ON versions (score_id, created_at, ordinal);
