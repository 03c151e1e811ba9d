-- Alert engine tables (owned by alerts/; read by api/ and Grafana).

-- Reachability per device, maintained by the alert engine from status, report age and topology.
CREATE TABLE device_reachability (
    device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    state text NOT NULL CHECK (state IN ('online', 'stale', 'offline', 'unreachable', 'unknown')),
    since timestamptz NOT NULL,
    root_cause_id text REFERENCES devices (id) ON DELETE SET NULL,  -- the down ancestor
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every reachability transition (for availability: unreachable time is not the device's fault).
CREATE TABLE device_reachability_changes (
    time timestamptz NOT NULL,
    device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    state text NOT NULL,
    root_cause_id text,
    PRIMARY KEY (device_id, time)
);
CREATE INDEX device_reachability_changes_time_idx ON device_reachability_changes (time);

CREATE TABLE alerts (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    fingerprint text NOT NULL,
    rule text NOT NULL,
    kind text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    device_id text REFERENCES devices (id) ON DELETE SET NULL,
    commune_code text,
    site_id text,
    device_type text,
    labels jsonb NOT NULL DEFAULT '{}',
    -- Alertmanager-style annotations: description, impact {"camera": 12}, runbook, ...
    annotations jsonb NOT NULL DEFAULT '{}',
    summary text NOT NULL DEFAULT '',       -- Vietnamese
    summary_en text NOT NULL DEFAULT '',
    value double precision,
    started_at timestamptz NOT NULL,        -- condition first seen
    fired_at timestamptz,
    resolved_at timestamptz,
    -- Topology inhibition: the root-cause alert this one is suppressed by.
    suppressed_by bigint REFERENCES alerts (id) ON DELETE SET NULL,
    silenced_by bigint[] NOT NULL DEFAULT '{}',
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_note text,
    assignee text,
    escalation_level integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_open_fingerprint_idx ON alerts (fingerprint) WHERE state <> 'resolved';
CREATE INDEX alerts_state_idx ON alerts (state, severity);
CREATE INDEX alerts_commune_idx ON alerts (commune_code, started_at);
CREATE INDEX alerts_device_idx ON alerts (device_id, started_at);

-- Full timeline of an alert: state changes, acknowledgements, assignment, escalation, notes.
CREATE TABLE alert_history (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    time timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    actor text,
    note text,
    data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, time);

-- Silences and maintenance windows. matchers: [{"label": "commune", "op": "=", "value": "21025"}]
CREATE TABLE silences (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    matchers jsonb NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    recurrence jsonb,                       -- optional recurring window, see alerts/silences
    created_by text NOT NULL,
    comment text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    expired_at timestamptz,                 -- set when expired early by hand
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_active_idx ON silences (ends_at);

-- Durable notification outbox: one row per message to one receiver.
CREATE TABLE notifications (
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    dedup_key text NOT NULL UNIQUE,        -- makes enqueueing idempotent
    receiver text NOT NULL,
    channel text NOT NULL,
    group_key text NOT NULL,
    kind text NOT NULL,                     -- firing, resolved, repeat, escalation
    alert_ids bigint[] NOT NULL DEFAULT '{}',
    payload jsonb NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE state = 'pending';
