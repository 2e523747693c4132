#!/bin/bash
# The streaming replica: on an empty data folder, clone the primary (pg_basebackup -R writes the standby
# settings), retrying until the primary answers; then run PostgreSQL as a hot standby.
set -euo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  PGPASSWORD=$(cat /run/secrets/pg-replication-password)
  export PGPASSWORD
  until pg_basebackup -h "${PRIMARY_HOST:-postgres}" -U replicator -D "$PGDATA" -R -X stream -c fast; do
    echo "replica: the primary is not ready yet; retrying in 2 s" >&2
    find "$PGDATA" -mindepth 1 -delete
    sleep 2
  done
  unset PGPASSWORD
fi
chmod 700 "$PGDATA"
exec postgres
