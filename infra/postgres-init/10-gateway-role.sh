#!/bin/sh
# PostgreSQL first-start init (docker-entrypoint-initdb.d, infra/compose.yaml): the gateways'
# own role `mosaic` — it logs in, owns the database `mosaic` (so it can run the gateway's
# migrations in the public schema), and is not a superuser, cannot create roles or databases,
# and cannot replicate. Its password comes from a secret file, read by psql itself (`\set` with
# a backquoted command), so it never appears on a command line.
set -eu
: "${MOSAIC_DB_PASSWORD_FILE:?set MOSAIC_DB_PASSWORD_FILE to the file holding the gateway role password}"
if [ ! -r "$MOSAIC_DB_PASSWORD_FILE" ]; then
  echo "10-gateway-role.sh: $MOSAIC_DB_PASSWORD_FILE cannot be read" >&2
  exit 2
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set=db="$POSTGRES_DB" <<SQL
\set pw \`cat "$MOSAIC_DB_PASSWORD_FILE"\`
CREATE ROLE mosaic LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
ALTER DATABASE :"db" OWNER TO mosaic;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO mosaic;
SQL
