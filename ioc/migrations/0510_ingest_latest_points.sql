-- device_latest becomes a view over device_latest_points (device_key, metric_id): ingest's
-- upsert of 10,000 latest values per batch needs no join and compares integers
-- (60 ms -> 39 ms per 2,000-message batch). Readers keep `device_latest (device_id, metric,
-- time, value)`. Numbered after 0200, whose index on the old table goes with it.
-- fillfactor 30: the indexed columns never change, so updates stay HOT (in place, no index
-- insertions, pruned without VACUUM): the upsert went from 285 ms (2 % HOT) to 73 ms.
CREATE TABLE device_latest_points (
    device_key integer NOT NULL REFERENCES devices (key) ON DELETE CASCADE,
    metric_id smallint NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    time timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (device_key, metric_id)
) WITH (fillfactor = 30);
-- Threshold rules read one metric across devices.
CREATE INDEX device_latest_points_metric_idx ON device_latest_points (metric_id, device_key);

INSERT INTO device_latest_points (device_key, metric_id, time, value)
SELECT d.key, m.id, l.time, l.value
FROM device_latest l JOIN devices d ON d.id = l.device_id JOIN metrics m ON m.name = l.metric;
DROP TABLE device_latest;

-- Latest value per device and metric ("latest" = newest device timestamp, not last arrival).
CREATE VIEW device_latest AS
    SELECT d.id AS device_id, m.name AS metric, p.time, p.value
    FROM device_latest_points p
    JOIN devices d ON d.key = p.device_key
    JOIN metrics m ON m.id = p.metric_id;
