-- A collector observes only devices of its own commune (it holds that commune's
-- secrets). The registry import says so per device with its line (devices/store.py); this
-- constraint trigger is the backstop for every other path that writes devices. Checked at
-- commit (deferred), so an import may create the collector and its devices in any order.
CREATE FUNCTION devices_observer_same_commune() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    obs record;
BEGIN
    IF NEW.observed_by IS NOT NULL AND NEW.decommissioned_at IS NULL THEN
        SELECT type, commune_code, decommissioned_at INTO obs FROM devices WHERE id = NEW.observed_by;
        IF FOUND AND (obs.type <> 'collector' OR obs.commune_code <> NEW.commune_code
                      OR obs.decommissioned_at IS NOT NULL) THEN
            RAISE EXCEPTION 'device %: collector % must be an in-service collector of commune %',
                NEW.id, NEW.observed_by, NEW.commune_code;
        END IF;
    END IF;
    IF NEW.type = 'collector' AND NEW.decommissioned_at IS NULL AND EXISTS (
        SELECT 1 FROM devices d WHERE d.observed_by = NEW.id AND d.decommissioned_at IS NULL
          AND d.commune_code <> NEW.commune_code) THEN
        RAISE EXCEPTION 'collector % observes devices outside its commune %', NEW.id, NEW.commune_code;
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER devices_observer_same_commune
    AFTER INSERT OR UPDATE OF observed_by, commune_code, type, decommissioned_at ON devices
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION devices_observer_same_commune();
