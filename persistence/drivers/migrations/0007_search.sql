-- 0007 search: a melodic n-gram index (interval and rhythm grams per line of notes) and a
-- full-text index over titles, composers, lyrics, chat and comments (persistence/search).

CREATE TABLE melody_lines (
    score_id  text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    line      integer NOT NULL,
    part_id   text NOT NULL,
    voice     integer NOT NULL,
    measures  jsonb NOT NULL,
    PRIMARY KEY (score_id, line)
);
COMMENT ON TABLE melody_lines IS
    'One indexed line (part, voice) of a score, with the measure id of each note.';

CREATE TABLE melody_grams (
    gram      bigint NOT NULL,
    score_id  text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    line      integer NOT NULL,
    pos       integer NOT NULL
);
CREATE INDEX melody_grams_by_gram ON melody_grams (gram);
CREATE INDEX melody_grams_by_score ON melody_grams (score_id);
COMMENT ON TABLE melody_grams IS
    'Postings of the melodic index: the hashed interval (or interval and rhythm) n-gram '
    'starting at note pos of a line.';

CREATE TABLE search_text (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    score_id  text NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    kind      text NOT NULL CHECK (kind IN ('title', 'composer', 'lyrics', 'chat', 'comment')),
    ref       text NOT NULL,
    body      text NOT NULL,
    words     tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED
);
CREATE INDEX search_text_words ON search_text USING gin (words);
CREATE INDEX search_text_by_score ON search_text (score_id);
COMMENT ON TABLE search_text IS
    'Full-text entries of a score (title, composer, lyrics, chat, comments), searched '
    'through the words column.';
