-- Storage: the real-time tail of the rollup views (plain PostgreSQL) as functions.
--
-- Inside a view the watermark is a sub-select, unknown when the query is planned, so the
-- planner guessed a third of the raw table (parallel workers, per-device rescans). These
-- functions read the watermark first and plan the tail with it as a value; the view scans
-- their (small) result once.
DO $$
BEGIN
    IF ioc_timescaledb() THEN
        RETURN;
    END IF;
    CREATE FUNCTION storage_tail_5m()
    RETURNS TABLE (bucket timestamptz, device_key integer, metric_id smallint,
                   min double precision, max double precision, avg double precision,
                   last double precision, count bigint)
    LANGUAGE plpgsql STABLE ROWS 2000 SET search_path = public, pg_temp AS $f$
    DECLARE
        w timestamptz;
    BEGIN
        SELECT coalesce(done, '-infinity') INTO w FROM storage_rollup_state
        WHERE resolution = '5m';
        RETURN QUERY EXECUTE $q$
            SELECT date_bin(interval '5 minutes', p.time, timestamptz '2000-01-01 00:00+00'),
                   p.device_key, p.metric_id, min(p.value), max(p.value), avg(p.value),
                   (array_agg(p.value ORDER BY p.time DESC))[1], count(*)
            FROM telemetry_points p WHERE p.time >= $1 GROUP BY 1, 2, 3 $q$
        USING w;
    END $f$;

    CREATE FUNCTION storage_tail_1h()
    RETURNS TABLE (bucket timestamptz, device_key integer, metric_id smallint,
                   min double precision, max double precision, avg double precision,
                   last double precision, count bigint)
    LANGUAGE plpgsql STABLE ROWS 2000 SET search_path = public, pg_temp AS $f$
    DECLARE
        w timestamptz;
    BEGIN
        SELECT coalesce(done, '-infinity') INTO w FROM storage_rollup_state
        WHERE resolution = '1h';
        RETURN QUERY EXECUTE $q$
            SELECT date_bin(interval '1 hour', f.bucket, timestamptz '2000-01-01 00:00+00'),
                   f.device_key, f.metric_id, min(f.min), max(f.max),
                   sum(f.avg * f.count) / sum(f.count),
                   (array_agg(f.last ORDER BY f.bucket DESC))[1], sum(f.count)::bigint
            FROM (SELECT r.bucket, r.device_key, r.metric_id, r.min, r.max, r.avg, r.last,
                         r.count::bigint AS count
                  FROM telemetry_rollup_5m r WHERE r.bucket >= $1
                  UNION ALL
                  SELECT * FROM storage_tail_5m() t WHERE t.bucket >= $1) f
            GROUP BY 1, 2, 3 $q$
        USING w;
    END $f$;

    CREATE OR REPLACE VIEW telemetry_5m_keys AS
        SELECT bucket, device_key, metric_id, min, max, avg, last, count::bigint AS count
        FROM telemetry_rollup_5m
        UNION ALL
        SELECT * FROM storage_tail_5m();
    CREATE OR REPLACE VIEW telemetry_1h_keys AS
        SELECT bucket, device_key, metric_id, min, max, avg, last, count::bigint AS count
        FROM telemetry_rollup_1h
        UNION ALL
        SELECT * FROM storage_tail_1h();
END $$;
