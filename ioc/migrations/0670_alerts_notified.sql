-- When an alert first went into a notification (firing or resolved). An alert that fired and
-- resolved between two messages of its group has none: the notifier then reports it once as
-- "self-resolved" instead of losing it (docs/notifications.md). Alerts from before this
-- migration count as handled (the column is filled for them, then defaults to NULL).
ALTER TABLE alerts ADD COLUMN notified_at timestamptz DEFAULT '-infinity';
ALTER TABLE alerts ALTER COLUMN notified_at SET DEFAULT NULL;
CREATE INDEX alerts_unnotified_resolved_idx ON alerts (resolved_at)
    WHERE state = 'resolved' AND notified_at IS NULL;
