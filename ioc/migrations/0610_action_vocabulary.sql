-- One history vocabulary for operator actions (ioc/actions.py): the API used to record `ack` and
-- `assign` where the engine's own actions wrote `acknowledged` and `assigned`. Existing timeline
-- and audit rows are renamed so reports and the console see one word per action.
UPDATE alert_history SET action = 'acknowledged' WHERE action = 'ack';
UPDATE alert_history SET action = 'assigned' WHERE action = 'assign';
UPDATE audit_log SET action = 'acknowledged' WHERE object_type = 'alert' AND action = 'ack';
UPDATE audit_log SET action = 'assigned' WHERE object_type = 'alert' AND action = 'assign';
