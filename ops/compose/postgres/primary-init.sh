#!/bin/bash
# Runs once, when the primary's data folder is created (/docker-entrypoint-initdb.d): the role the replica
# streams with, its password from the secret file, allowed to connect for replication (scram-sha-256);
# and the schema registry's own database (its tables stay apart from the orders').
# The password reaches psql through its environment (\getenv), never its command line (visible in ps).
set -euo pipefail
REPLICATION_PASSWORD=$(cat /run/secrets/pg-replication-password)
export REPLICATION_PASSWORD
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres --set=owner="$POSTGRES_USER" <<'SQL'
\getenv password REPLICATION_PASSWORD
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
CREATE DATABASE schema_registry OWNER :"owner";
SQL
unset REPLICATION_PASSWORD
echo 'host replication replicator all scram-sha-256' >> "$PGDATA/pg_hba.conf"
