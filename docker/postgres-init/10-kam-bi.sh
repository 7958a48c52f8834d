#!/bin/bash
# Runs once, when the postgres service initialises its data directory. With KAM_PG_PASSWORD
# set in docker/.env: the role kam and the database bi it owns, for kam.yml
#   publish: {postgres: {dsn: postgresql://kam@postgres:5432/bi, password_env: KAM_PG_PASSWORD}}
set -euo pipefail
if [ -z "${KAM_PG_PASSWORD:-}" ]; then
    echo "KAM_PG_PASSWORD not set: no Postgres target for the marts"
    exit 0
fi
psql -v ON_ERROR_STOP=1 -v password="$KAM_PG_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE kam LOGIN PASSWORD :'password';
CREATE DATABASE bi OWNER kam;
SQL
