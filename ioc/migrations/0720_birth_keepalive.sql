-- A device's MQTT keep-alive as its last birth message said: the alert engine
-- holds the children of a silent parent as long as the broker may take to declare the parent
-- gone (1.5 x this). NULL: the birth did not say; the catalogue's default for its type applies.
ALTER TABLE device_status ADD COLUMN keepalive_s integer;
COMMENT ON COLUMN device_status.keepalive_s IS
    'MQTT keep-alive (s) from the device''s last birth message (status JSON keepalive_s)';
