#!/usr/bin/env bash
# Pictures of cairn serve's pages for the README and docs/serve.md, taken by a real
# headless Chromium over the sample case (SampleData/ ingested with Rules/, one
# incident triaged). Needs a built cairn (swift build -c release) and chromium.
#   scripts/screenshots.sh [OUT_DIR]   (default docs/screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/screenshots}
cairn=${CAIRN:-.build/release/cairn}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$out" "$work/case"
"$cairn" ingest --rules Rules --db "$work/case/cairn.sqlite" --no-table-cache SampleData > /dev/null
"$cairn" triage --db "$work/case/cairn.sqlite" 1 --status investigating --assignee "duty officer" \
  --note "Beaconing to 203.0.113.45 every 5 minutes; the update-check lookup came first." > /dev/null
"$cairn" serve --db "$work/case/cairn.sqlite" --listen 127.0.0.1:0 --no-upload > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "http://" "$work/serve.log" && break; sleep 0.1; done
base=$(grep -o 'http://[^ ]*' "$work/serve.log" | head -1)
shoot() {  # NAME PATH HEIGHT
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,"$3" \
    --screenshot="$out/$1.png" "$base${2#/}" > /dev/null 2>&1
  echo "$out/$1.png"
}
shoot case / 1100
shoot incidents /incidents 560
shoot incident /incidents/1 1180
shoot sighting /sightings/13 640
shoot custody /custody 520
