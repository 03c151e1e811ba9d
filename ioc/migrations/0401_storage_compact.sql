-- Storage: smaller raw telemetry on plain PostgreSQL (issue 8: under 100 bytes per point).
--
-- Rows arrive in time order, so a BRIN index answers time-range scans (rollup tail, "all
-- devices in the last 5 minutes") at ~0 bytes per point, where the B-tree on (time) cost
-- ~20-30 bytes per point. Per-device queries use the primary key (device_key, metric_id, time).
-- TimescaleDB keeps its own per-chunk time index and compresses chunks instead.
DO $$
BEGIN
    IF NOT ioc_timescaledb() THEN
        DROP INDEX IF EXISTS telemetry_points_time_idx;
        CREATE INDEX telemetry_points_time_brin ON telemetry_points USING brin (time)
            WITH (pages_per_range = 32);
    END IF;
END $$;

-- Closed daily partitions whose indexes were rebuilt compactly (REINDEX CONCURRENTLY): live
-- inserts split primary-key pages half-full; a closed day never changes again, so one rebuild
-- brings its index to the default 90 % fill.
CREATE TABLE storage_compacted (
    partition text PRIMARY KEY,
    compacted_at timestamptz NOT NULL DEFAULT now(),
    bytes_before bigint NOT NULL,
    bytes_after bigint NOT NULL
);
