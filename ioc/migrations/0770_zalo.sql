-- Zalo Official Account channel (alerts/zalo): linked accounts, the 48 h window, presses,
-- the webhook inbox, the OA tokens (all in ioc_auth: chat texts, codes and Zalo user ids stay
-- out of Grafana's reach), and the health of notification channels (channel_down).

-- Zalo users linked to product users (`/lienket CODE`, codes from ioc_auth.telegram_link_codes,
-- which the console issues for every chat channel).
CREATE TABLE ioc_auth.zalo_links (
    zalo_user_id text PRIMARY KEY,
    user_id bigint NOT NULL UNIQUE REFERENCES ioc_auth.users (id) ON DELETE CASCADE,
    linked_at timestamptz NOT NULL DEFAULT now()
);

-- OA tokens. The refresh token is single-use and rotates on every refresh: the new one is
-- written in the same transaction as the refresh, and the previous one is kept until a call
-- with the new access token succeeds (proven_at).
CREATE TABLE ioc_auth.zalo_tokens (
    app_id text PRIMARY KEY,
    access_token text,
    access_expires_at timestamptz,
    refresh_token text NOT NULL,
    previous_refresh_token text,
    generation bigint NOT NULL DEFAULT 0,
    refreshed_at timestamptz,
    proven_at timestamptz,
    last_error text
);

-- Last interaction of every Zalo user with the OA: free replies only within 48 h of it.
CREATE TABLE ioc_auth.zalo_contacts (
    zalo_user_id text PRIMARY KEY,
    last_interaction_at timestamptz NOT NULL,
    last_event text NOT NULL
);

-- Verified webhook events, answered 200 at once and handled by a worker; the key (the
-- message id, else the body's digest) makes a redelivered event a no-op.
CREATE TABLE ioc_auth.zalo_inbox (
    event_key text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    event jsonb NOT NULL,
    processed_at timestamptz,
    outcome text
);
CREATE INDEX zalo_inbox_todo_idx ON ioc_auth.zalo_inbox (received_at) WHERE processed_at IS NULL;

-- One action per (alert, action, Zalo user): pressing the same button twice acts once.
CREATE TABLE ioc_auth.zalo_presses (
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    action text NOT NULL,
    zalo_user_id text NOT NULL,
    actor text NOT NULL,
    pressed_at timestamptz NOT NULL,
    PRIMARY KEY (alert_id, action, zalo_user_id)
);

-- A channel that cannot send (e.g. Zalo tokens cannot be refreshed): the engine raises a
-- `channel_down` alert while down_since is set.
CREATE TABLE notify_channel_health (
    channel text PRIMARY KEY,
    down_since timestamptz,
    reason text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
