#!/bin/sh
# Run by the postgres image once, when it initialises an empty data volume
# (/docker-entrypoint-initdb.d): creates valuation_migrator and valuation_app on the valuation database
# with scripts/db/roles.sql (mounted at /valuation/roles.sql). The server listens on its socket only
# at this point; psql connects as the superuser the image created.
set -eu
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v migrator=valuation_migrator -v migrator_password="$VALUATION_DB_MIGRATOR_PASSWORD" \
  -v app=valuation_app -v app_password="$VALUATION_DB_APP_PASSWORD" \
  -f /valuation/roles.sql
