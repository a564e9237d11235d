-- 0006 trash: a deleted score stays, out of sight, until it is purged (ScoreCatalog
-- trash_score / untrash_score / list_trash / trashed_before; the server purges what has
-- been in the trash longer than ORPHEUS_TRASH_DAYS).

ALTER TABLE scores ADD COLUMN deleted_at timestamptz;
COMMENT ON COLUMN scores.deleted_at IS
    'In the trash since (NULL: not deleted). Trashed scores are absent for reads and '
    'lists; DELETE of the row purges them with everything that cascades from it.';
CREATE INDEX scores_trash ON scores (deleted_at) WHERE deleted_at IS NOT NULL;
