-- 0004 accounts: admin flag, session invalidation on password change, JWT deny-list.

ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN sessions_valid_after double precision NOT NULL DEFAULT 0;
COMMENT ON COLUMN users.sessions_valid_after IS
    'Unix time: access tokens issued before it are refused (set on password change).';

CREATE TABLE revoked_sessions (
    jti         text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
COMMENT ON TABLE revoked_sessions IS
    'Logged-out access tokens (by JWT id), kept until they would have expired anyway.';
CREATE INDEX revoked_sessions_by_expiry ON revoked_sessions (expires_at);
