#!/bin/sh
# Entry point of the Mosaic gateway image: VAR_FILE → VAR for the variables that carry
# secrets (compose/Docker secrets are files under /run/secrets), then `mosaic "$@"`.
set -eu
for var in DATABASE_URL REDIS_URL MOSAIC_SECRET; do
  eval "file=\${${var}_FILE:-}"
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "mosaic-entrypoint: ${var}_FILE names $file, which cannot be read" >&2
      exit 2
    fi
    value=$(cat "$file")
    export "$var=$value"
    unset "${var}_FILE"
  fi
done
exec node /opt/mosaic/dist/bin.js "$@"
