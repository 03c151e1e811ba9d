-- Every ingest batch rewrites one device_status row per device. Its indexed column never
-- changes, so with free room on each page PostgreSQL updates in place (HOT: no index
-- insertions, pruned without VACUUM). Measured with device_latest, the same pattern: an upsert
-- of 10,000 rows went from 285 ms (2 % HOT) to 73 ms (100 % HOT) with fillfactor 30.
ALTER TABLE device_status SET (fillfactor = 30);
CLUSTER device_status USING device_status_pkey;  -- existing pages get that room too
