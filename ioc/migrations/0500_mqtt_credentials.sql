-- Security: MQTT credentials of devices and services (`ioc devices credentials`).
-- Only hashes are stored (Mosquitto's `$7$` PBKDF2-SHA512 form, so the broker's password file
-- is written from this table without ever storing a secret). Hidden from the Grafana role.
CREATE TABLE mqtt_credentials (
    -- Devices log in with their device id; services with a name starting with '_', which no
    -- device id can (device ids start with a letter or digit).
    username text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'),
    role text NOT NULL CHECK (role IN ('device', 'ingest', 'simulator')),
    device_id text UNIQUE REFERENCES devices (id) ON DELETE CASCADE,
    password_hash text CHECK (password_hash ~ '^\$7\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$'),
    issued_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'device') = (device_id IS NOT NULL)),
    CHECK (role <> 'device' OR username = device_id),
    CHECK (role = 'device' OR username LIKE '\_%'),
    -- A revoked credential keeps its row (who had access, until when) but loses its hash.
    CHECK ((revoked_at IS NULL) = (password_hash IS NOT NULL))
);
COMMENT ON TABLE mqtt_credentials IS
    'MQTT logins (devices and services); password_hash only, secrets are shown once at issue.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        REVOKE ALL ON mqtt_credentials FROM ioc_grafana;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_ingest') THEN
        REVOKE ALL ON mqtt_credentials FROM ioc_ingest;
    END IF;
END $$;
