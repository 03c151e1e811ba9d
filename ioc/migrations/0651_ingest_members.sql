-- Departed shared-subscription members: each instance records its MQTT group and
-- client id, so a live instance of the same group can resume a departed one's persistent
-- session, drain what the broker queued for it and end it (ingest/takeover.py); `retired_at`
-- marks it done (ingest deletes nothing; a heartbeat of the same name clears it);
-- `stopped_at` is set by the last heartbeat of a clean stop (cleared by the next start).
ALTER TABLE ingest_instances ADD COLUMN mqtt_group text, ADD COLUMN client_id text,
    ADD COLUMN retired_at timestamptz, ADD COLUMN stopped_at timestamptz;
