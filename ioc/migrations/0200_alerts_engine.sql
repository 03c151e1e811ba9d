-- Alert engine helpers (owned by alerts/): a comparison function for set-wise rule evaluation
-- and indexes for the engine's per-tick queries.

-- Compares a value with a threshold using a rule's operator; rules pass the operator as data
-- so every threshold/state rule runs the same constant query.
CREATE FUNCTION ioc_alert_cmp(v double precision, op text, t double precision)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE op
        WHEN '>' THEN v > t
        WHEN '>=' THEN v >= t
        WHEN '<' THEN v < t
        WHEN '<=' THEN v <= t
        WHEN '==' THEN v = t
        WHEN '!=' THEN v <> t
    END
$$;

-- Threshold/state rules read one metric for the whole fleet per tick. Keys never change on
-- update, so ingest's upserts of device_latest stay HOT.
CREATE INDEX IF NOT EXISTS device_latest_metric_idx ON device_latest (metric, device_id);

-- The engine loads the open alerts every tick.
CREATE INDEX alerts_open_rule_idx ON alerts (rule, device_id) WHERE state <> 'resolved';
-- Blind window of the latest pipeline outage.
CREATE INDEX alerts_rule_started_idx ON alerts (rule, started_at);

-- True when a device silent since ``last`` is overdue by ``limit_s`` seconds at ``now``,
-- not counting silence explained by the latest monitoring-pipeline outage (blind window): the
-- device must have been overdue before the outage began, or stay silent ``limit_s`` past its
-- end (blind_end NULL while the outage lasts).
CREATE FUNCTION ioc_alert_overdue(
    last timestamptz, limit_s double precision, now timestamptz,
    blind_start timestamptz, blind_end timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT last + make_interval(secs => limit_s) < now
       AND (blind_start IS NULL
            OR last + make_interval(secs => limit_s) < blind_start
            OR (blind_end IS NOT NULL AND blind_end + make_interval(secs => limit_s) < now))
$$;
