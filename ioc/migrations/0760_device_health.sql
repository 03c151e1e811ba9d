-- Health beside reachability: does a reachable device do its job? One home for the rule, read
-- by the API, the console, the map and Grafana alike.
--   failed:   a camera without video (stream down, 0 fps, RTSP refused), a loudspeaker that
--             cannot play (amplifier fault, no mains and a low battery), an NVR with a disk
--             fault or not recording, a link down, a UPS with a depleted battery;
--   degraded: the device works with a symptom (low frame rate or bitrate, on battery, hot,
--             weak 4G, packet loss, latency, failing collector checks);
--   healthy:  none of that, and (cameras, loudspeakers) the values that prove it are known;
--   unknown:  nothing known, or the device is not reachable now (its values are old).
-- `symptom` is a key of the glossary's `symptoms` section (ioc/glossary.yaml).
-- Per device through LATERAL (one index probe per device): a page of devices or one device
-- costs only its own rows, not the whole fleet's latest values.
CREATE VIEW device_health AS
WITH s AS (
    SELECT d.id, d.type, v.time,
           coalesce(r.state, 'unknown') AS reach,
           CASE
               -- failed: the device does not do its job
               WHEN d.type = 'camera' AND (v.stream_up < 0.5 OR v.fps <= 0 OR v.stream_state = 2)
                   THEN 'no_video'
               WHEN d.type = 'camera' AND v.stream_state = 1 THEN 'stream_unauthorized'
               WHEN d.type = 'speaker' AND v.amp_ok < 0.5 THEN 'amp_fault'
               WHEN d.type = 'speaker' AND v.mains_ok < 0.5 AND v.battery_v < 11.5 THEN 'no_power'
               WHEN d.type = 'nvr' AND v.disk_status >= 1 THEN 'disk_fault'
               WHEN d.type = 'nvr' AND v.recording < 0.5 THEN 'not_recording'
               WHEN d.type = 'link' AND v.up < 0.5 THEN 'link_down'
               WHEN d.type = 'ups' AND v.battery_status = 3 THEN 'battery_depleted'
               -- degraded: it works, with a symptom
               WHEN d.type = 'camera' AND v.fps < 0.5 * v.fps_configured THEN 'low_fps'
               WHEN d.type = 'camera' AND v.bitrate_kbps < 0.2 * v.bitrate_conf THEN 'low_bitrate'
               WHEN d.type = 'speaker' AND v.mains_ok < 0.5 THEN 'on_battery'
               WHEN d.type = 'speaker' AND v.temp_c > 70 THEN 'overheating'
               WHEN d.type = 'speaker' AND v.rsrp_dbm < -100 THEN 'weak_signal'
               WHEN d.type = 'link' AND v.loss_pct > 20 THEN 'packet_loss'
               WHEN d.type = 'link' AND v.rtt_ms > 150 THEN 'high_latency'
               WHEN d.type = 'ups' AND v.on_battery >= 0.5 THEN 'on_battery'
               WHEN d.type = 'collector' AND v.checks_failing > 0 THEN 'checks_failing'
           END AS symptom,
           -- the values that prove a camera delivers video, a loudspeaker can play
           CASE d.type
               WHEN 'camera' THEN v.stream_up IS NOT NULL OR v.fps IS NOT NULL
               WHEN 'speaker' THEN v.amp_ok IS NOT NULL
               ELSE v.time IS NOT NULL
           END AS proven
    FROM devices d
    LEFT JOIN device_reachability r ON r.device_id = d.id
    CROSS JOIN LATERAL (
    SELECT max(p.time) AS time,
           max(p.value) FILTER (WHERE m.name = 'stream_up') AS stream_up,
           max(p.value) FILTER (WHERE m.name = 'stream_state') AS stream_state,
           max(p.value) FILTER (WHERE m.name = 'fps') AS fps,
           max(p.value) FILTER (WHERE m.name = 'fps_configured') AS fps_configured,
           max(p.value) FILTER (WHERE m.name = 'bitrate_kbps') AS bitrate_kbps,
           max(p.value) FILTER (WHERE m.name = 'bitrate_configured_kbps') AS bitrate_conf,
           max(p.value) FILTER (WHERE m.name = 'amp_ok') AS amp_ok,
           max(p.value) FILTER (WHERE m.name = 'mains_ok') AS mains_ok,
           max(p.value) FILTER (WHERE m.name = 'battery_v') AS battery_v,
           max(p.value) FILTER (WHERE m.name = 'temp_c') AS temp_c,
           max(p.value) FILTER (WHERE m.name = 'rsrp_dbm') AS rsrp_dbm,
           max(p.value) FILTER (WHERE m.name = 'disk_status') AS disk_status,
           max(p.value) FILTER (WHERE m.name = 'recording') AS recording,
           max(p.value) FILTER (WHERE m.name = 'up') AS up,
           max(p.value) FILTER (WHERE m.name = 'loss_pct') AS loss_pct,
           max(p.value) FILTER (WHERE m.name = 'rtt_ms') AS rtt_ms,
           max(p.value) FILTER (WHERE m.name = 'on_battery') AS on_battery,
           max(p.value) FILTER (WHERE m.name = 'battery_status') AS battery_status,
           max(p.value) FILTER (WHERE m.name = 'checks_failing') AS checks_failing
    FROM device_latest_points p JOIN metrics m ON m.id = p.metric_id
    WHERE p.device_key = d.key
    ) v
)
SELECT s.id AS device_id,
       CASE
           WHEN s.reach NOT IN ('online', 'stale') THEN 'unknown'
           WHEN s.symptom IN ('no_video', 'stream_unauthorized', 'amp_fault', 'no_power',
                              'disk_fault', 'not_recording', 'link_down', 'battery_depleted')
               THEN 'failed'
           WHEN s.symptom IS NOT NULL THEN 'degraded'
           WHEN s.proven THEN 'healthy'
           ELSE 'unknown'
       END AS health,
       CASE WHEN s.reach IN ('online', 'stale') THEN s.symptom END AS symptom,
       s.time AS values_at
FROM s;
