-- The two database roles of the valuation pipeline (contract §10; docs/operations.md, Database roles).
--
--   migrator  runs `npm run db:migrate` / `db:revert`: owns the project's tables, may create in the schema
--   app       runs the scheduler and the calculators: connects, reads and writes rows, nothing more
--
-- Run it as an administrator (a superuser, or the database's owner with CREATEROLE) on the project's
-- database, before the first migration or at any time after (it is idempotent; running it again
-- also resets the passwords):
--
--   psql -v ON_ERROR_STOP=1 -d valuation \
--        -v migrator=valuation_migrator -v migrator_password="$MIGRATOR_PASSWORD" \
--        -v app=valuation_app -v app_password="$APP_PASSWORD" \
--        -f scripts/db/roles.sql
--
-- Every variable is required (psql stops at the first one missing). The passwords reach the server
-- in ALTER ROLE statements: keep log_statement below 'ddl' while running it, as the default is.

\set ON_ERROR_STOP on

-- The roles (cluster-wide): created when missing, their attributes and passwords set every time.
SELECT format('CREATE ROLE %I', :'migrator')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'migrator') \gexec
SELECT format('CREATE ROLE %I', :'app')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"migrator" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'migrator_password';
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';

-- This database: both connect; only the migrator creates, in the schema `public`, and nobody else
-- does (PostgreSQL 15 revokes CREATE on public from PUBLIC already; an upgraded cluster may not have).
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', current_database(), :'migrator', :'app') \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"migrator";
GRANT USAGE ON SCHEMA public TO :"app";
REVOKE CREATE ON SCHEMA public FROM :"app";

-- Tables already there (a database migrated before the roles existed, as the superuser): the
-- migrator takes them over, so later migrations may alter them. Identity sequences follow their table.
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'migrator')
  FROM pg_tables
 WHERE schemaname = 'public' AND tableowner <> :'migrator' \gexec

-- The app role: rows only (no TRUNCATE, REFERENCES or TRIGGER), on the tables there now ...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
-- ... and on every table and sequence later migrations create (they run as the migrator).
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app";
