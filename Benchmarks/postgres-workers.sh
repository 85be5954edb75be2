#!/bin/bash
# Two cairn workers against one on a shared case (issue 24's scaling figure, docs/performance.md).
#
#   swift build -c release
#   Benchmarks/postgres-workers.sh postgresql://postgres@127.0.0.1:5432 ../bench-data/syslog.log.gz RULES_DIR [ROUNDS]
#
# SERVER is a URL of a role that may create databases (no database name). The bench
# syslog is copied four times, each copy given one line of its own (a gzip member
# appended) so that no two have the same SHA-256; each round ingests them into a new
# database with one worker, then with two, each `--jobs 1`, and prints the wall times
# and the speed-up, interleaved.
set -euo pipefail
server=${1:?usage: $0 SERVER_URL SYSLOG_GZ RULES_DIR [ROUNDS]}
syslog=${2:?a gzip syslog, e.g. ../bench-data/syslog.log.gz}
rules=${3:?a rules directory}
rounds=${4:-3}
cairn=${CAIRN:-.build/release/cairn}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for i in 1 2 3 4; do
    { cat "$syslog"; echo "Dec  7 12:00:0$i copy$i cairn benchmark: copy $i" | gzip; } > "$work/copy$i.log.gz"
done

# run N: one case, four copies, N workers; prints the wall seconds.
run() {
    local name="workers_$1_$RANDOM" url
    psql -X -q "$server/postgres" -c "CREATE DATABASE $name"
    url="$server/$name"
    "$cairn" queue add --db "$url" "$work" > /dev/null
    local start end
    start=$(date +%s.%N)
    for _ in $(seq "$1"); do
        "$cairn" worker --db "$url" --rules "$rules" --jobs 1 --until-empty > "$work/worker.log" 2>&1 &
    done
    wait
    end=$(date +%s.%N)
    psql -X -q "$server/postgres" -c "DROP DATABASE $name"
    echo "$end - $start" | bc
}

echo "| round | one worker, s | two workers, s | speed-up |"
echo "|---|---:|---:|---:|"
for round in $(seq "$rounds"); do
    one=$(run 1)
    two=$(run 2)
    printf '| %d | %.2f | %.2f | %.2f× |\n' "$round" "$one" "$two" "$(echo "$one / $two" | bc -l)"
done
