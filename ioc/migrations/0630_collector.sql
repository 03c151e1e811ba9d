-- Edge collector: which collector observes a device, how it reaches it, what it runs.

-- The collector (a device of type 'collector') that polls this device; while it is offline the
-- device is 'unobserved', not offline.
ALTER TABLE devices ADD COLUMN observed_by text
    REFERENCES devices (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE devices ADD CONSTRAINT devices_observed_by_not_self CHECK (observed_by IS DISTINCT FROM id);
-- Network address on the commune LAN and the checks with their parameters. Secrets are only
-- ever referenced by name (password_env, community_env, ...), never stored here.
ALTER TABLE devices ADD COLUMN address text CHECK (length(address) <= 253);
ALTER TABLE devices ADD COLUMN checks jsonb NOT NULL DEFAULT '{}';
CREATE INDEX devices_observed_by_idx ON devices (observed_by) WHERE observed_by IS NOT NULL;

ALTER TABLE device_reachability DROP CONSTRAINT device_reachability_state_check;
ALTER TABLE device_reachability ADD CONSTRAINT device_reachability_state_check
    CHECK (state IN ('online', 'stale', 'offline', 'unreachable', 'unobserved', 'unknown'));

-- API tokens of edge collectors: each reads only its own inventory (GET
-- /api/v1/collector/inventory), nothing else. Kept apart from user tokens so no user route can
-- ever accept one. Digests only, like user tokens.
CREATE TABLE ioc_auth.collector_tokens (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    collector_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    prefix text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX collector_tokens_collector_idx ON ioc_auth.collector_tokens (collector_id);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON ioc_auth.collector_tokens TO ioc_app;
    END IF;
END $$;
