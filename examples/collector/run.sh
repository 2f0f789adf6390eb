#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1:55432 (data in a temp dir,
# removed on exit) and the collector example against it. Needs Debian's
# postgresql package (make deps installs it) and bin/caddy (make build).
set -euo pipefail
cd "$(dirname "$0")"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=$(mktemp -d)
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$data"
trap 'run_pg "$bin/pg_ctl" -D "$data/db" stop -m fast >/dev/null 2>&1 || true; rm -rf "$data"' EXIT
run_pg "$bin/initdb" -D "$data/db" -U imgedge --auth=trust >/dev/null
run_pg "$bin/pg_ctl" -D "$data/db" -o "-p 55432 -k $data -c listen_addresses=127.0.0.1" -l "$data/log" -w start >/dev/null
run_pg "$bin/createdb" -h 127.0.0.1 -p 55432 -U imgedge usage
export IMGEDGE_PG_DSN="postgres://imgedge@127.0.0.1:55432/usage?sslmode=disable"
export IMGEDGE_SPOOL="$data/spool"
echo "PostgreSQL on 127.0.0.1:55432; edge on http://localhost:8082; dashboard on http://localhost:9082/"
../../bin/caddy run --config Caddyfile --adapter caddyfile
