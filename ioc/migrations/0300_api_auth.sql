-- API users, bearer tokens (stored as SHA-256 digests) and the audit log.
-- Users and tokens live in their own schema: post-apply.sql grants Grafana SELECT on every
-- table in "public", so secrets kept there would be re-exposed on every `ioc migrate`.

CREATE SCHEMA IF NOT EXISTS ioc_auth;
REVOKE ALL ON SCHEMA ioc_auth FROM PUBLIC;

CREATE TABLE ioc_auth.users (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'technician')),
    -- Commune scope: empty = every commune.
    communes text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE ioc_auth.tokens (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    user_id bigint NOT NULL REFERENCES ioc_auth.users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,       -- sha256 of the token; the token itself is never kept
    prefix text NOT NULL,                   -- first characters, to recognise a token in lists
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX tokens_user_idx ON ioc_auth.tokens (user_id);

-- Who did what, when: acknowledgements, assignments, silences, registry and user changes.
CREATE TABLE audit_log (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    time timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    object_type text NOT NULL,
    object_id text NOT NULL DEFAULT '',
    commune_code text,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time_idx ON audit_log (time);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, time);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_app') THEN
        GRANT USAGE ON SCHEMA ioc_auth TO ioc_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ioc_auth TO ioc_app;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ioc_auth TO ioc_app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        REVOKE ALL ON SCHEMA ioc_auth FROM ioc_grafana;
        REVOKE ALL ON ALL TABLES IN SCHEMA ioc_auth FROM ioc_grafana;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_ingest') THEN
        REVOKE ALL ON SCHEMA ioc_auth FROM ioc_ingest;
    END IF;
END $$;
