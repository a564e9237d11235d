-- 0003 analysis results and collaboration sessions.

CREATE TABLE analysis_results (
    score_id     text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    analysis     text NOT NULL,    -- registered analysis name, e.g. 'key', 'roman'
    epoch        bigint NOT NULL,  -- document version the result describes:
    seq          bigint NOT NULL,  -- the update log position (epoch, seq)
    result       jsonb NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms  double precision,
    PRIMARY KEY (score_id, analysis, epoch, seq)
);
COMMENT ON TABLE analysis_results IS
    'Analysis output per score, analysis and document version. "Latest result for a '
    'score and analysis" (ORDER BY epoch DESC, seq DESC LIMIT 1) is a backward scan of '
    'the primary key index.';

CREATE TABLE collaboration_sessions (
    id          text PRIMARY KEY,
    score_id    text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    instance    text,  -- the server instance that hosted the room
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz
);
COMMENT ON TABLE collaboration_sessions IS
    'A period during which a score''s room was open (from first join to last leave).';
CREATE INDEX collaboration_sessions_by_score ON collaboration_sessions (score_id, started_at);
CREATE INDEX collaboration_sessions_open ON collaboration_sessions (score_id)
    WHERE ended_at IS NULL;

CREATE TABLE session_participants (
    session_id      text NOT NULL REFERENCES collaboration_sessions (id) ON DELETE CASCADE,
    participant_id  text NOT NULL,  -- user id, agent name or anonymous connection id
    kind            text NOT NULL CHECK (kind IN ('user', 'agent', 'anonymous')),
    user_id         text REFERENCES users (id) ON DELETE SET NULL,
    role            text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    joined_at       timestamptz NOT NULL DEFAULT now(),
    left_at         timestamptz,
    PRIMARY KEY (session_id, participant_id)
);
COMMENT ON TABLE session_participants IS 'Who took part in a session, with which role.';
CREATE INDEX session_participants_by_user ON session_participants (user_id, joined_at)
    WHERE user_id IS NOT NULL;

CREATE TABLE session_messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    score_id     text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    session_id   text REFERENCES collaboration_sessions (id) ON DELETE SET NULL,
    author_id    text,  -- user id or agent name; NULL for the server
    author_kind  text NOT NULL CHECK (author_kind IN ('user', 'agent', 'system')),
    body         jsonb NOT NULL,  -- text, mentions, anchors, tool output
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE session_messages IS
    'Chat and agent messages about a score, kept beyond the document''s own chat array; '
    'read newest first per score or per session.';
CREATE INDEX session_messages_by_score ON session_messages (score_id, id);
CREATE INDEX session_messages_by_session ON session_messages (session_id, id)
    WHERE session_id IS NOT NULL;
