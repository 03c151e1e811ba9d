-- device_latest and device_status are rewritten by every ingest batch (one row version per
-- device and metric). Their indexed columns never change, so with free room on each page
-- PostgreSQL updates them in place (HOT: no index insertions, pruned without VACUUM).
-- Measured on a 2,000-message batch: device_latest upsert 285 ms -> 73 ms (2 % -> 100 % HOT).
ALTER TABLE device_latest SET (fillfactor = 30);
ALTER TABLE device_status SET (fillfactor = 30);
-- Rewrite so that existing pages get that room too (both tables hold one row per device).
CLUSTER device_latest USING device_latest_pkey;
CLUSTER device_status USING device_status_pkey;
