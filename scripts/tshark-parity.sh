#!/usr/bin/env bash
# Checks Cairn against tshark on a CERT's own captures (docs/fields.md, "Checking
# Cairn against tshark"): every IP address, DNS name and answer, TLS/QUIC server
# name, HTTP host (HTTP/1 Host, HTTP/2 :authority) and HTTP object SHA-256 that
# tshark shows in the captures under DIR becomes an indicator; Cairn ingests the
# captures with them; each value tshark showed in a capture and Cairn did not sight
# there is printed, and the reverse.
#
#   scripts/tshark-parity.sh DIR [CAIRN]     CAIRN defaults to .build/release/cairn
#
# Exits 0 when both lists are empty, 1 otherwise, 2 on a usage or tool error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 DIR [CAIRN]" >&2; exit 2; }
exec python3 "$root/scripts/tshark_parity.py" "$1" "${2:-$root/.build/release/cairn}"
