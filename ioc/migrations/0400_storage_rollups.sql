-- Storage lifecycle (storage/): 5-minute and 1-hour rollups, read through the views
-- telemetry_5m / telemetry_1h (same name and shape with and without TimescaleDB), and the
-- daily availability table read by the API overview and Grafana.
--
-- Plain PostgreSQL: rollup tables partitioned by month (5 min) and year (1 h), filled by the
-- `ioc maintain` jobs up to a watermark ("done"). Late or corrected raw rows below the
-- invalidation threshold are logged by a statement-level trigger (transition table) into
-- storage_rollup_dirty, and the next job run re-aggregates exactly those (bucket, device)
-- pairs. The views add the not-yet-materialized tail from raw data (real-time aggregation).
-- TimescaleDB: hierarchical continuous aggregates (1 h on 5 min), real-time as well.

-- Creates the missing partitions of a range-partitioned table in steps of `step`
-- ('1 day', '1 month', '1 year'), aligned on UTC day/month/year boundaries.
CREATE FUNCTION storage_ensure_partitions(parent text, from_ts timestamptz, to_ts timestamptz,
                                          step interval)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    unit text := CASE WHEN step >= interval '1 year' THEN 'year'
                      WHEN step >= interval '1 month' THEN 'month' ELSE 'day' END;
    lo timestamp;
    part text;
    created integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(parent)) THEN
        RETURN 0;
    END IF;
    lo := date_trunc(unit, from_ts AT TIME ZONE 'UTC');
    WHILE lo <= to_ts AT TIME ZONE 'UTC' LOOP
        part := format('%s_p%s', parent, to_char(lo, 'YYYYMMDD'));
        IF to_regclass(part) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part, parent, lo AT TIME ZONE 'UTC', (lo + step) AT TIME ZONE 'UTC');
                created := created + 1;
            EXCEPTION WHEN duplicate_table THEN
                NULL;  -- created concurrently by another process
            END;
        END IF;
        lo := lo + step;
    END LOOP;
    RETURN created;
END $$;

-- Watermarks per resolution: `done` = materialized up to here (exclusive); `threshold` = late
-- rows older than this are logged as dirty (moved forward before each refresh).
CREATE TABLE storage_rollup_state (
    resolution text PRIMARY KEY CHECK (resolution IN ('5m', '1h')),
    threshold timestamptz,
    done timestamptz,
    refreshed_at timestamptz
);
INSERT INTO storage_rollup_state (resolution) VALUES ('5m'), ('1h');

-- Invalidation log: append-only (no unique index, so concurrent ingest never blocks on it).
CREATE TABLE storage_rollup_dirty (
    resolution text NOT NULL,
    bucket timestamptz NOT NULL,
    device_key integer NOT NULL
);
CREATE INDEX storage_rollup_dirty_idx ON storage_rollup_dirty (resolution, bucket);

DO $$
BEGIN
    IF ioc_timescaledb() THEN
        EXECUTE $q$
            CREATE MATERIALIZED VIEW telemetry_cagg_5m
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(interval '5 minutes', time) AS bucket, device_key, metric_id,
                   min(value) AS min, max(value) AS max,
                   avg(least(greatest(value, -1e15), 1e15)) AS avg,  -- no float8 overflow
                   last(value, time) AS last, count(*) AS count
            FROM telemetry_points
            GROUP BY 1, 2, 3
            WITH NO DATA $q$;
        EXECUTE $q$
            CREATE MATERIALIZED VIEW telemetry_cagg_1h
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(interval '1 hour', bucket) AS bucket, device_key, metric_id,
                   min(min) AS min, max(max) AS max, sum(avg * count) / sum(count) AS avg,
                   last(last, bucket) AS last, sum(count)::bigint AS count
            FROM telemetry_cagg_5m
            GROUP BY 1, 2, 3
            WITH NO DATA $q$;
        CREATE VIEW telemetry_5m_keys AS
            SELECT bucket, device_key, metric_id, min, max, avg, last, count::bigint AS count
            FROM telemetry_cagg_5m;
        CREATE VIEW telemetry_1h_keys AS
            SELECT bucket, device_key, metric_id, min, max, avg, last, count::bigint AS count
            FROM telemetry_cagg_1h;
    ELSE
        CREATE TABLE telemetry_rollup_5m (
            bucket timestamptz NOT NULL,
            min double precision NOT NULL,
            max double precision NOT NULL,
            avg double precision NOT NULL,
            last double precision NOT NULL,
            count integer NOT NULL,
            device_key integer NOT NULL,
            metric_id smallint NOT NULL,
            PRIMARY KEY (device_key, metric_id, bucket)
        ) PARTITION BY RANGE (bucket);
        CREATE INDEX telemetry_rollup_5m_bucket_idx ON telemetry_rollup_5m (bucket);
        CREATE TABLE telemetry_rollup_1h (LIKE telemetry_rollup_5m INCLUDING ALL)
            PARTITION BY RANGE (bucket);

        -- Logs (5-minute bucket, device) pairs touched below the threshold. Every writer
        -- holds a shared advisory lock until it commits; the refresh job takes it exclusively
        -- while moving the threshold, so no row can slip between "not logged" and "not seen".
        CREATE FUNCTION storage_log_late_points() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
        DECLARE
            th timestamptz;
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(4242400);
            SELECT threshold INTO th FROM storage_rollup_state WHERE resolution = '5m';
            IF th IS NOT NULL THEN
                INSERT INTO storage_rollup_dirty (resolution, bucket, device_key)
                SELECT DISTINCT '5m', date_bin(interval '5 minutes', time, timestamptz '2000-01-01 00:00+00'),
                       device_key
                FROM changed WHERE time < th;
            END IF;
            RETURN NULL;
        END $f$;
        CREATE TRIGGER storage_late_insert AFTER INSERT ON telemetry_points
            REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION storage_log_late_points();
        CREATE TRIGGER storage_late_update AFTER UPDATE ON telemetry_points
            REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION storage_log_late_points();
        CREATE TRIGGER storage_late_delete AFTER DELETE ON telemetry_points
            REFERENCING OLD TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION storage_log_late_points();

        -- Materialized rows plus the tail not materialized yet, aggregated from raw data.
        CREATE VIEW telemetry_5m_keys AS
            SELECT bucket, device_key, metric_id, min, max, avg, last, count::bigint AS count
            FROM telemetry_rollup_5m
            UNION ALL
            SELECT date_bin(interval '5 minutes', time, timestamptz '2000-01-01 00:00+00'),
                   device_key, metric_id, min(value), max(value), avg(value),
                   (array_agg(value ORDER BY time DESC))[1], count(*)
            FROM telemetry_points
            WHERE time >= coalesce((SELECT done FROM storage_rollup_state
                                    WHERE resolution = '5m'), '-infinity')
            GROUP BY 1, 2, 3;
        CREATE VIEW telemetry_1h_keys AS
            SELECT bucket, device_key, metric_id, min, max, avg, last, count::bigint AS count
            FROM telemetry_rollup_1h
            UNION ALL
            SELECT date_bin(interval '1 hour', bucket, timestamptz '2000-01-01 00:00+00'),
                   device_key, metric_id, min(min), max(max), sum(avg * count) / sum(count),
                   (array_agg(last ORDER BY bucket DESC))[1], sum(count)::bigint
            FROM telemetry_5m_keys
            WHERE bucket >= coalesce((SELECT done FROM storage_rollup_state
                                      WHERE resolution = '1h'), '-infinity')
            GROUP BY 1, 2, 3;
    END IF;
END $$;

-- The stable surface for the API and Grafana.
CREATE VIEW telemetry_5m AS
    SELECT r.bucket, d.id AS device_id, m.name AS metric, r.min, r.max, r.avg, r.last, r.count
    FROM telemetry_5m_keys r
    JOIN devices d ON d.key = r.device_key
    JOIN metrics m ON m.id = r.metric_id;
CREATE VIEW telemetry_1h AS
    SELECT r.bucket, d.id AS device_id, m.name AS metric, r.min, r.max, r.avg, r.last, r.count
    FROM telemetry_1h_keys r
    JOIN devices d ON d.key = r.device_key
    JOIN metrics m ON m.id = r.metric_id;

-- Seconds per device and local day in each availability state (today's row is partial).
CREATE TABLE availability_daily (
    day date NOT NULL,
    device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    online_s double precision NOT NULL DEFAULT 0,
    offline_s double precision NOT NULL DEFAULT 0,
    unreachable_s double precision NOT NULL DEFAULT 0,
    maintenance_s double precision NOT NULL DEFAULT 0,
    unknown_s double precision NOT NULL DEFAULT 0,
    complete boolean NOT NULL DEFAULT false,   -- false while the day is still running
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, device_id)
);
CREATE INDEX availability_daily_device_idx ON availability_daily (device_id, day);
