#!/usr/bin/env bash
# A case in PostgreSQL fed by two workers, on this machine (docs/scale-out.md):
# starts a throwaway PostgreSQL server on a free loopback port, in a temporary
# directory, queues SampleData/, runs two `cairn worker --until-empty --rules Rules`
# side by side, then prints `cairn queue status` and `cairn incidents`. On exit,
# however it ends, the server is stopped and the directory removed.
#
# Needs Debian's postgresql package (for its server binaries; the system service
# is not used) and a built cairn: $CAIRN if set, else .build/debug/cairn, built with
# `swift build` when absent. Run as root, the server runs as the postgres user.
#
#   scripts/cluster-demo.sh
#   CAIRN=.build/release/cairn scripts/cluster-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The newest server binaries the postgresql package installed
# (/usr/lib/postgresql/VERSION/bin).
pg_bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "error: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; install them with: apt-get install postgresql" >&2
  exit 1
fi

# The server refuses to run as root: as root, run it as the postgres user the
# package created.
if [ "$(id -u)" -eq 0 ]; then
  if ! id -u postgres >/dev/null 2>&1; then
    echo "error: running as root, but there is no postgres user to run the server as" >&2
    exit 1
  fi
  as_server() { runuser -u postgres -- "$@"; }
  tmp_parent=/tmp   # a directory the postgres user can reach (root's TMPDIR may not be)
else
  as_server() { "$@"; }
  tmp_parent=${TMPDIR:-/tmp}
fi

if [ -n "${CAIRN:-}" ]; then
  cairn=$CAIRN
  if [ ! -x "$cairn" ]; then
    echo "error: CAIRN=$cairn is not an executable file" >&2
    exit 1
  fi
else
  cairn=.build/debug/cairn
  if [ ! -x "$cairn" ]; then
    echo "building cairn (swift build)..."
    swift build --product cairn
  fi
fi

tmp=$(mktemp -d "$tmp_parent/cairn-demo.XXXXXX")
data=$tmp/data
server_started=no
worker_pids=()

# shellcheck disable=SC2317  # run by the EXIT trap, which shellcheck 0.9 does not follow
cleanup() {
  local status=$?
  trap - EXIT
  # Workers still running (an interrupted demo): ask them to stop, as a user would.
  local pid
  for pid in "${worker_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "$server_started" = yes ]; then
    as_server "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
# Ctrl-C and kill go through the same cleanup.
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$tmp"
fi

echo "initdb in $data (PostgreSQL binaries: $pg_bin)"
as_server "$pg_bin/initdb" -D "$data" --locale=C -E UTF8 -A trust -U postgres >"$tmp/initdb.log" 2>&1 || {
  cat "$tmp/initdb.log" >&2
  exit 1
}

# A free loopback port: nothing answers on it. Another program may take it between
# the check and the start, so a failed start tries the next one.
port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
port=$((20000 + RANDOM % 20000))
for _ in 1 2 3 4 5 6 7 8 9 10; do
  port=$((port + 1))
  port_is_free "$port" || continue
  # -k: the Unix socket in the temporary directory, not /var/run/postgresql.
  if as_server "$pg_bin/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 \
      -o "-p $port -k $tmp -c listen_addresses=127.0.0.1" start >/dev/null; then
    server_started=yes
    break
  fi
done
if [ "$server_started" != yes ]; then
  echo "error: the PostgreSQL server did not start; its log:" >&2
  cat "$tmp/server.log" >&2 || true
  exit 1
fi
echo "PostgreSQL listening on 127.0.0.1:$port"

"$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres -E UTF8 -T template0 cairn_demo
db="postgresql://postgres@127.0.0.1:$port/cairn_demo?sslmode=disable"

echo
echo "\$ cairn queue add --db $db SampleData"
"$cairn" queue add --db "$db" SampleData

echo
echo "starting two workers"
for n in 1 2; do
  "$cairn" worker --db "$db" --until-empty --rules Rules >"$tmp/worker$n.log" 2>&1 &
  worker_pids+=("$!")
done

failed=0
for n in 1 2; do
  status=0
  wait "${worker_pids[$((n - 1))]}" || status=$?
  echo
  echo "worker $n exited with status $status; its output:"
  sed 's/^/  /' "$tmp/worker$n.log"
  if [ "$status" -ne 0 ]; then
    failed=1
  fi
done

echo
echo "\$ cairn queue status --db $db"
"$cairn" queue status --db "$db"
echo
echo "\$ cairn incidents --db $db"
"$cairn" incidents --db "$db"

exit "$failed"
