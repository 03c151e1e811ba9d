-- The clustered bus (IOC_BUS=nats): NATS checks passwords against bcrypt hashes, not
-- Mosquitto's `$7$`, so a credential issued from now on stores both hashes of the same secret.
-- Credentials issued earlier have none: rotate them before moving to the bus.
ALTER TABLE mqtt_credentials ADD COLUMN bus_password_hash text
    CHECK (bus_password_hash ~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$');
ALTER TABLE mqtt_credentials ADD CONSTRAINT mqtt_credentials_bus_hash_revoked
    CHECK (revoked_at IS NULL OR bus_password_hash IS NULL);
COMMENT ON COLUMN mqtt_credentials.bus_password_hash IS
    'bcrypt hash of the same secret, for the NATS bus''s authorization file.';
