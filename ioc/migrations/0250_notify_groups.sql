-- Notification grouping state and outbox leases (owned by alerts/notify).

-- One row per aggregation group (route + group labels): what was last notified, and when.
CREATE TABLE notify_groups (
    route text NOT NULL,
    group_key text NOT NULL,
    receiver text NOT NULL,
    group_labels jsonb NOT NULL DEFAULT '{}',
    -- Alerts notified as firing whose resolution has not been notified yet.
    alert_ids bigint[] NOT NULL DEFAULT '{}',
    flushes integer NOT NULL DEFAULT 0,
    last_flush_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (route, group_key)
);

-- Delivery lease: a row is 'sending' until lease_until; a crashed sender's row is recovered
-- after that (see docs/notifications.md, "Crash mid-send").
ALTER TABLE notifications
    ADD COLUMN route text,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN claimed_by text;

-- Per receiver and group, messages go out in enqueue order (firing before its resolution).
CREATE INDEX notifications_open_order_idx ON notifications (receiver, group_key, id)
    WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_lease_idx ON notifications (lease_until) WHERE state = 'sending';
