-- 0005 one results schema on every backend; session_messages becomes the agents'
-- conversation memory; the session tables nobody used are dropped.

-- analysis_results: the columns of the SQLite table. Results of a named version were
-- stored as analysis '<set>@<version id>' with seq 0; they get their own column, and
-- every (score, set, version id) keeps one row (a live result: version_id '').
ALTER TABLE analysis_results RENAME COLUMN analysis TO analysis_set;
ALTER TABLE analysis_results ADD COLUMN version_id text NOT NULL DEFAULT '';
UPDATE analysis_results
SET version_id = substr(analysis_set, strpos(analysis_set, '@') + 1),
    analysis_set = left(analysis_set, strpos(analysis_set, '@') - 1)
WHERE strpos(analysis_set, '@') > 0;
DELETE FROM analysis_results older USING analysis_results newer
WHERE older.score_id = newer.score_id AND older.analysis_set = newer.analysis_set
  AND older.version_id = newer.version_id
  AND (older.epoch, older.seq) < (newer.epoch, newer.seq);
ALTER TABLE analysis_results DROP CONSTRAINT analysis_results_pkey;
ALTER TABLE analysis_results ADD PRIMARY KEY (score_id, analysis_set, version_id);
ALTER TABLE analysis_results ALTER COLUMN version_id DROP DEFAULT;
COMMENT ON COLUMN analysis_results.version_id IS
    'The named version the result describes; '''' for the live (latest) result.';
COMMENT ON TABLE analysis_results IS
    'Analysis output per score, analysis set and named version (version_id, '''' for the '
    'live result), with the document version (epoch, seq) it describes. A live save '
    'never replaces a newer result.';

-- session_messages: per score only.
ALTER TABLE session_messages DROP COLUMN session_id;  -- its index and foreign key go too
DROP TABLE session_participants;
DROP TABLE collaboration_sessions;
COMMENT ON TABLE session_messages IS
    'The agents'' conversation memory: messages about a score from people, agents and '
    'the server, read newest first per score (ConversationStore).';
