-- Ingest now bounds every number by the catalogue. A latest value stored before
-- that and beyond any bound (NaN, ±Infinity, |v| > 1e15) would overflow the threshold rules'
-- arithmetic; it is dropped here (the device's next reading sets a new one). Raw rows stay:
-- the rollups clamp what they average.
DELETE FROM device_latest_points WHERE NOT (value BETWEEN -1e15 AND 1e15);
