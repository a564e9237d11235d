-- 0002 users and access control: accounts, per-score roles, share links, API tokens.
-- Secrets (share link tokens, API tokens) are stored only as SHA-256 hashes.

CREATE TABLE users (
    id             text PRIMARY KEY,
    email          text,
    display_name   text NOT NULL DEFAULT '',
    password_hash  text,  -- NULL for accounts signing in through an external provider
    is_agent       boolean NOT NULL DEFAULT false,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS 'People and agent accounts.';
CREATE UNIQUE INDEX users_by_email ON users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE share_links (
    id          text PRIMARY KEY,
    score_id    text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_by  text REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked     boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE share_links IS
    'Secret links to a score; the role a link grants is its score_access row. Look-up '
    'by token_hash (unique index).';
CREATE INDEX share_links_by_score ON share_links (score_id);

CREATE TABLE score_access (
    score_id    text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    user_id     text REFERENCES users (id) ON DELETE CASCADE,
    link_id     text REFERENCES share_links (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    granted_by  text REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(user_id, link_id) = 1)  -- the principal: a user or a share link
);
COMMENT ON TABLE score_access IS
    'Who may do what on a score: one row per (score, principal), the principal being a '
    'user or a share link; at most one owner per score.';
CREATE UNIQUE INDEX score_access_user ON score_access (score_id, user_id)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX score_access_link ON score_access (score_id, link_id)
    WHERE link_id IS NOT NULL;
CREATE UNIQUE INDEX score_access_one_owner ON score_access (score_id) WHERE role = 'owner';
CREATE INDEX score_access_by_user ON score_access (user_id, score_id)
    WHERE user_id IS NOT NULL;  -- "scores shared with me"
CREATE INDEX score_access_by_link ON score_access (link_id) WHERE link_id IS NOT NULL;

CREATE TABLE api_tokens (
    id            text PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    scopes        text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE api_tokens IS
    'Bearer tokens for REST clients and agents, acting as user_id; look-up by token_hash.';
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
