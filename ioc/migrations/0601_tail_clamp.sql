-- Storage: the real-time tail of the 5-minute rollup clamps the average like the rollups do.
--
-- avg() of float8 overflows (an error) on values near 1e154 or on two near the float8
-- maximum; the rollup job (storage/rollups.py AGG_RAW) and the TimescaleDB 5-minute aggregate
-- (0400) average least(greatest(value, -1e15), 1e15). The plain path's tail (0402) averaged
-- raw values, so one extreme stored row (written before ingest bounded values, or by hand)
-- made every read of telemetry_5m / telemetry_1h (API, Grafana) fail until it was
-- materialized. Same signature: the views over it stay as they are. storage_tail_1h() reads
-- this function and the materialized 5-minute rows, whose averages are clamped already.
-- TimescaleDB: the continuous aggregates' real-time part uses their own (clamped) query.
DO $$
BEGIN
    IF ioc_timescaledb() THEN
        RETURN;
    END IF;
    CREATE OR REPLACE FUNCTION storage_tail_5m()
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
                   p.device_key, p.metric_id, min(p.value), max(p.value),
                   avg(least(greatest(p.value, -1e15), 1e15)),
                   (array_agg(p.value ORDER BY p.time DESC))[1], count(*)
            FROM telemetry_points p WHERE p.time >= $1 GROUP BY 1, 2, 3 $q$
        USING w;
    END $f$;
END $$;
