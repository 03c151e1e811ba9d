-- Runs after every `ioc migrate` (idempotent): least-privilege roles and their grants.
-- Roles are NOLOGIN here; `ioc migrate --roles` gives them LOGIN and passwords from settings.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['ioc_ingest', 'ioc_app', 'ioc_grafana'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION
                WHEN duplicate_object THEN NULL;
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'cannot create role %: grant CREATEROLE or create it by hand', role_name;
            END;
        END IF;
    END LOOP;
END $$;

DO $$
BEGIN
    IF (SELECT count(*) FROM pg_roles
        WHERE rolname IN ('ioc_ingest', 'ioc_app', 'ioc_grafana')) < 3 THEN
        RAISE NOTICE 'ioc roles missing; grants skipped';
        RETURN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ioc_ingest, ioc_app, ioc_grafana',
                   current_database());
    GRANT USAGE ON SCHEMA public TO ioc_ingest, ioc_app, ioc_grafana;

    -- Grafana: read-only, bounded.
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ioc_grafana;
    ALTER ROLE ioc_grafana SET statement_timeout = '10s';
    ALTER ROLE ioc_grafana CONNECTION LIMIT 20;

    -- App (alerts, API, maintenance jobs): data, never DDL.
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ioc_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ioc_app, ioc_ingest;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ioc_app, ioc_ingest;

    -- Ingest: reads the registry, writes only its own tables.
    GRANT SELECT ON communes, sites, devices, device_parents, device_types, metrics,
        device_type_metrics TO ioc_ingest;
    GRANT SELECT, INSERT, UPDATE ON telemetry_points, device_events, device_latest,
        device_status, device_status_changes, quarantine TO ioc_ingest;
END $$;
