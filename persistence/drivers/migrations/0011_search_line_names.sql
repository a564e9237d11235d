-- 0011 search lines: what a melodic hit shows and selects without opening the score: the
-- part's name and, per note of the line, its measure number and note id
-- (persistence/search/postgres.py). Lines indexed before stay without them until the
-- score is re-indexed (the next edit, or `orpheus reindex`).

ALTER TABLE melody_lines
    ADD COLUMN part_name text NOT NULL DEFAULT '',
    ADD COLUMN numbers   jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN notes     jsonb NOT NULL DEFAULT '[]';
COMMENT ON COLUMN melody_lines.numbers IS 'The measure number of each note of the line.';
COMMENT ON COLUMN melody_lines.notes IS 'The note id of each note of the line.';
