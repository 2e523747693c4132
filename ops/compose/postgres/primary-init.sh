#!/bin/bash
# Runs once, when the primary's data folder is created (/docker-entrypoint-initdb.d): the role the replica
# streams with, its password from the secret file, allowed to connect for replication (scram-sha-256);
# and the schema registry's own database (its tables stay apart from the orders').
set -euo pipefail
password=$(cat /run/secrets/pg-replication-password)
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres --set=password="$password" --set=owner="$POSTGRES_USER" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
CREATE DATABASE schema_registry OWNER :"owner";
SQL
echo 'host replication replicator all scram-sha-256' >> "$PGDATA/pg_hba.conf"
