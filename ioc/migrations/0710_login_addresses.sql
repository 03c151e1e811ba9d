-- Addresses each user has logged in from (console): failures from other addresses never
-- throttle a user at an address they logged in from before (api/ratelimit.py).

CREATE TABLE ioc_auth.login_addresses (
    user_id bigint NOT NULL REFERENCES ioc_auth.users (id) ON DELETE CASCADE,
    address text NOT NULL,
    last_login_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, address)
);
