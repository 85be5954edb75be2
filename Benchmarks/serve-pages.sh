#!/usr/bin/env bash
# How fast cairn serve answers on a case of 1,000,000 sightings and 100,000 incidents
# (docs/serve.md, "Speed"): the median and the slowest of 20 requests per page, after
# one request that warms the caches, timed by curl on loopback.
#   Benchmarks/serve-pages.sh WORK_DIR [POSTGRES_SERVER_URL]
# WORK_DIR gets the generated log (Benchmarks/make-correlation-log.py: 100,000 hosts,
# 10 lines each, a second apart: one incident per host) and the case; with a server
# URL (postgresql://USER@HOST:PORT, no database), the case is also copied into a new
# database there and measured the same way. Needs a release build (swift build -c release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cairn=${CAIRN:-$root/.build/release/cairn}
work=$1
server_url=${2:-}
mkdir -p "$work"
if [ ! -f "$work/case.sqlite" ]; then
  python3 "$root/Benchmarks/make-correlation-log.py" "$work" --lines 1000000 --hosts 100000 --gap-seconds 1
  "$cairn" ingest --db "$work/case.sqlite" --rules "$work/rules" --no-table-cache "$work/conn.log"
fi

pages=(/incidents /incidents/1 /incidents/50000 /sightings/500000 "/incidents?page=2000"
       "/incidents?sort=severity" "/incidents?status=new" "/incidents?host=10.0.1.2"
       "/incidents?severity=high" "/incidents?indicator=203.0.113.5" / /api/incidents/1)

measure() {  # CASE LABEL
  "$cairn" serve --db "$1" --listen 127.0.0.1:0 --no-upload --rules "$work/rules" > "$work/serve.log" 2>&1 &
  local server=$!
  for _ in $(seq 300); do grep -q "http://" "$work/serve.log" && break; sleep 0.1; done
  local base
  base=$(grep -o 'http://[^ ]*' "$work/serve.log" | head -1)
  echo "$2: $(git -C "$root" rev-parse --short HEAD)"
  for path in "${pages[@]}"; do
    curl -s -o /dev/null "$base${path#/}"
    local times
    times=$(for _ in $(seq 20); do curl -s -o /dev/null -w "%{time_total}\n" "$base${path#/}"; done | sort -n)
    printf "  %-36s median %8.1f ms   slowest %8.1f ms\n" "$path" \
      "$(echo "$times" | sed -n '10p;11p' | awk '{ s += $1 } END { print s / 2 * 1000 }')" \
      "$(echo "$times" | tail -1 | awk '{ print $1 * 1000 }')"
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
}

measure "$work/case.sqlite" "SQLite case"
if [ -n "$server_url" ]; then
  database="serve_bench_$$"
  psql "$server_url/postgres" -qc "CREATE DATABASE $database" > /dev/null
  "$cairn" case copy --from "$work/case.sqlite" --to "$server_url/$database"
  measure "$server_url/$database" "PostgreSQL case"
fi
