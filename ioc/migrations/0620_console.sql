-- Console logins (password hashes, sessions) and Telegram accounts linked to users.
-- All of it lives in ioc_auth (never readable by Grafana, see 0300_api_auth.sql).

ALTER TABLE ioc_auth.users ADD COLUMN password_hash text;
ALTER TABLE ioc_auth.users ADD COLUMN password_set_at timestamptz;

-- Console sessions: the cookie carries a random token; only its SHA-256 is kept.
CREATE TABLE ioc_auth.sessions (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    token_hash bytea NOT NULL UNIQUE,
    user_id bigint NOT NULL REFERENCES ioc_auth.users (id) ON DELETE CASCADE,
    csrf text NOT NULL,                     -- per-session CSRF token, echoed in every form
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz
);
CREATE INDEX sessions_user_idx ON ioc_auth.sessions (user_id);
CREATE INDEX sessions_expires_idx ON ioc_auth.sessions (expires_at);

-- One-time codes shown in the console; `/start CODE` to the bot links the Telegram account.
CREATE TABLE ioc_auth.telegram_link_codes (
    code_hash bytea PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES ioc_auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE TABLE ioc_auth.telegram_links (
    telegram_user_id bigint PRIMARY KEY,
    user_id bigint NOT NULL UNIQUE REFERENCES ioc_auth.users (id) ON DELETE CASCADE,
    telegram_username text,
    linked_at timestamptz NOT NULL DEFAULT now()
);

-- getUpdates offset, kept so a restarted (or new) leader does not replay presses.
CREATE TABLE telegram_state (
    bot text PRIMARY KEY,                   -- bot id (the token's numeric part)
    update_offset bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ioc_auth TO ioc_app;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ioc_auth TO ioc_app;
    END IF;
END $$;

-- The console folds suppressed children under their root cause.
CREATE INDEX alerts_open_suppressed_by_idx ON alerts (suppressed_by) WHERE state <> 'resolved';
