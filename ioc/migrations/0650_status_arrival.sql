-- Status order is arrival (broker) order: the arrival of the current status, so a
-- status that arrives later replaces it whatever `ts` it carries (a last will is composed at
-- connect time; a device clock may run ahead). NULL: no status since this column exists.
ALTER TABLE device_status ADD COLUMN status_received_at timestamptz;
COMMENT ON COLUMN device_status.status_received_at IS
    'arrival (ingest clock) of the current status; a later arrival replaces it';
