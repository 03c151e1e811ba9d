-- Reorder-tolerant loss detection (ingest/sequence.py): a jump in a device's seq opens a
-- missing range; a late message fills it; a range still open after IOC_INGEST_SEQ_GAP_HOLD_S
-- of device time is counted in seq_gaps, which now counts lost messages (sequence numbers that
-- never arrived) rather than jumps.
ALTER TABLE device_status ADD COLUMN seq_missing bigint[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN device_status.seq_gaps IS
    'messages lost: sequence numbers still missing after the hold time (IOC_INGEST_SEQ_GAP_HOLD_S)';
COMMENT ON COLUMN device_status.seq_missing IS
    'open missing ranges, flattened [first, last, opened_epoch_ms, ...]';
