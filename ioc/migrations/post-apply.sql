-- Runs after every `ioc migrate` (idempotent): least-privilege roles and their grants.
-- Roles are NOLOGIN here; `ioc migrate --roles` gives them LOGIN and passwords from settings.
-- Who may do what (docs/security.md):
--   ioc_ingest   SELECT the registry and catalogue; SELECT/INSERT/UPDATE its own tables;
--                never DELETE/TRUNCATE, never DDL; no MQTT credentials.
--   ioc_app      alerts, API, maintenance jobs: DML on the data, never DDL (it owns nothing,
--                so it cannot DROP or ALTER); the audit log is append-only.
--   ioc_grafana  read-only (also at transaction level), statement timeout, connection limit,
--                no secrets (MQTT credential hashes, API users and tokens).
-- Tables are owned by the role that runs `ioc migrate` (never a run-time role).
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
    -- Only the IOC roles (and the owner) connect; nobody creates objects in public by default.
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ioc_ingest, ioc_app, ioc_grafana',
                   current_database());
    -- Ingest stages its COPY batches in a temporary table.
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO ioc_ingest, ioc_app', current_database());
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    GRANT USAGE ON SCHEMA public TO ioc_ingest, ioc_app, ioc_grafana;

    -- Grafana: read-only, bounded.
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ioc_grafana;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
        ON ALL TABLES IN SCHEMA public FROM ioc_grafana;
    -- Role settings need CREATEROLE: run by the schema owner, ioc/bootstrap.py sets them.
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        ALTER ROLE ioc_grafana SET statement_timeout = '10s';
        ALTER ROLE ioc_grafana SET idle_in_transaction_session_timeout = '60s';
        ALTER ROLE ioc_grafana SET default_transaction_read_only = on;
        ALTER ROLE ioc_grafana CONNECTION LIMIT 20;
    END IF;

    -- App (alerts, API, maintenance jobs): data, never DDL.
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ioc_app;
    REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM ioc_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ioc_app, ioc_ingest;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ioc_app, ioc_ingest;

    -- API users and tokens (0300_api_auth.sql grants these only where the roles already
    -- existed; on a fresh server the roles are created above, after it ran).
    IF to_regnamespace('ioc_auth') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA ioc_auth TO ioc_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ioc_auth TO ioc_app;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ioc_auth TO ioc_app;
    END IF;

    -- Ingest: reads the registry, writes only its own tables, deletes nothing.
    GRANT SELECT ON communes, sites, devices, device_parents, device_types, metrics,
        device_type_metrics TO ioc_ingest;
    GRANT SELECT, INSERT, UPDATE ON telemetry_points, device_events, device_latest_points,
        device_status, device_status_changes, quarantine TO ioc_ingest;
    IF to_regclass('public.ingest_instances') IS NOT NULL THEN  -- its heartbeat (0101)
        GRANT SELECT, INSERT, UPDATE ON ingest_instances TO ioc_ingest;
    END IF;
    REVOKE DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM ioc_ingest;
END $$;

-- Secrets, the migration bookkeeping and the audit trail: re-applied after the blanket grants
-- above, so tables added later by any area stay covered.
DO $$
DECLARE
    rel regclass;
    fn regprocedure;
BEGIN
    IF (SELECT count(*) FROM pg_roles
        WHERE rolname IN ('ioc_ingest', 'ioc_app', 'ioc_grafana')) < 3 THEN
        RETURN;
    END IF;
    -- Known secrets tables (guarded: the areas that create them may not be installed).
    FOREACH rel IN ARRAY ARRAY[to_regclass('public.mqtt_credentials'),
                               to_regclass('ioc_auth.users'), to_regclass('ioc_auth.tokens')] LOOP
        CONTINUE WHEN rel IS NULL;
        EXECUTE format('REVOKE ALL ON %s FROM ioc_grafana, ioc_ingest', rel);
    END LOOP;
    -- Any other table or view with a secret-looking column is hidden from Grafana as well.
    FOR rel IN
        SELECT DISTINCT c.oid::regclass FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attname ~* '(password|passwd|secret|token_hash|api_key|private_key)'
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM ioc_grafana', rel);
    END LOOP;
    -- Migration bookkeeping belongs to the migrating role only.
    FOR rel IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname ~ '^_?yoyo_'
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM ioc_grafana, ioc_app, ioc_ingest', rel);
    END LOOP;
    -- ... except reading which migrations ran: every service checks the schema is current.
    IF to_regclass('public._yoyo_migration') IS NOT NULL THEN
        GRANT SELECT ON _yoyo_migration TO ioc_app, ioc_ingest;
    END IF;
    -- The audit trail is append-only for the application.
    IF to_regclass('public.audit_log') IS NOT NULL THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ioc_app;
    END IF;
    -- SECURITY DEFINER functions run with the owner's rights: only the roles that need them.
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosecdef
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, ioc_grafana', fn);
    END LOOP;
END $$;

-- The run-time roles own nothing (owning a table would let them DROP or ALTER it): anything
-- they created (e.g. by hand) is handed to the migrating role.
DO $$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT format('%s %s', CASE c.relkind WHEN 'v' THEN 'VIEW'
                                              WHEN 'm' THEN 'MATERIALIZED VIEW'
                                              WHEN 'f' THEN 'FOREIGN TABLE'
                                              ELSE 'TABLE' END, c.oid::regclass) AS what
        FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rolname IN ('ioc_ingest', 'ioc_app', 'ioc_grafana')
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relpersistence <> 't'
          AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
        UNION ALL
        SELECT format('ROUTINE %s', p.oid::regprocedure) FROM pg_proc p
        JOIN pg_roles r ON r.oid = p.proowner
        WHERE r.rolname IN ('ioc_ingest', 'ioc_app', 'ioc_grafana')
        UNION ALL
        SELECT format('SCHEMA %I', n.nspname) FROM pg_namespace n
        JOIN pg_roles r ON r.oid = n.nspowner
        WHERE r.rolname IN ('ioc_ingest', 'ioc_app', 'ioc_grafana')
          AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
    LOOP
        BEGIN
            EXECUTE format('ALTER %s OWNER TO %I', obj.what, current_user);
            RAISE NOTICE 'ownership of % moved from a run-time role to %', obj.what, current_user;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING '% is owned by a run-time role, which can DROP or ALTER it', obj.what;
        END;
    END LOOP;
END $$;
