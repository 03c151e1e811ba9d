-- Storage: smaller raw telemetry (under 100 bytes per point; TimescaleDB when installed).
--
-- Rows arrive in time order, so a BRIN index answers time-range scans (rollup tail, "all
-- devices in the last 5 minutes") at ~0 bytes per point, where the B-tree on (time) cost
-- ~20-50 bytes per point. Per-device queries use the primary key (device_key, metric_id, time).
-- Both paths: on TimescaleDB the BRIN index sits on each (1-day) chunk behind chunk exclusion;
-- compressed chunks are read through their own (device_key, metric_id) segment index.
DROP INDEX IF EXISTS telemetry_points_time_idx;
CREATE INDEX telemetry_points_time_brin ON telemetry_points USING brin (time)
    WITH (pages_per_range = 32);

-- Closed daily partitions whose indexes were rebuilt compactly (REINDEX CONCURRENTLY): live
-- inserts split primary-key pages half-full; a closed day never changes again, so one rebuild
-- brings its index to the default 90 % fill.
CREATE TABLE storage_compacted (
    partition text PRIMARY KEY,
    compacted_at timestamptz NOT NULL DEFAULT now(),
    bytes_before bigint NOT NULL,
    bytes_after bigint NOT NULL
);
