-- Grafana: dashboards read one metric over many buckets. Rollup rows are stored in bucket
-- order with every metric interleaved, so reading one metric scanned every metric's rows
-- (~1 s for 3 days of one commune). These covering indexes give index-only scans of just that
-- metric's entries. Plain PostgreSQL only: with TimescaleDB the continuous aggregates carry
-- their own (metric_id, bucket) indexes and compression.
-- Cost: about 50 bytes per rollup row (the 5-minute table is ~60 bytes per row).
DO $$
BEGIN
    IF to_regclass('telemetry_rollup_5m') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS telemetry_rollup_5m_metric_bucket_idx
            ON telemetry_rollup_5m (metric_id, bucket) INCLUDE (device_key, min, max, avg, count);
    END IF;
    IF to_regclass('telemetry_rollup_1h') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS telemetry_rollup_1h_metric_bucket_idx
            ON telemetry_rollup_1h (metric_id, bucket) INCLUDE (device_key, min, max, avg, count);
    END IF;
END $$;
