-- Ingest self-monitoring: one row per ingest process, updated every few seconds
-- (IOC_INGEST_HEARTBEAT_S). The alert engine reads it to alert on a stalled or dead ingest.
CREATE TABLE ingest_instances (
    instance text PRIMARY KEY,
    started_at timestamptz,
    heartbeat_at timestamptz,
    received bigint NOT NULL DEFAULT 0,       -- messages received since start
    written_rows bigint NOT NULL DEFAULT 0,   -- telemetry points and events inserted
    duplicates bigint NOT NULL DEFAULT 0,     -- rows that already existed (redeliveries)
    quarantined bigint NOT NULL DEFAULT 0,    -- messages sent to quarantine
    last_commit_at timestamptz,
    last_batch_ms double precision,           -- duration of the last batch write + commit
    lag_ms double precision                   -- arrival of the oldest message → its commit
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_ingest') THEN
        GRANT SELECT, INSERT, UPDATE ON ingest_instances TO ioc_ingest;
    END IF;
END $$;
