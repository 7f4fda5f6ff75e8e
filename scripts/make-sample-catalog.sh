#!/usr/bin/env bash
# Builds the demo sample catalogue (package internal/samplecatalog) into
# .cache/sample-catalog, or the folder given as the first argument. Extra
# arguments go to mksample (-limit, -voice-every, -queries, -force, ...).
# Needs Go, npm once (to fetch the pinned emoji package, sha256-checked),
# and espeak-ng and sox (apt-get install npm espeak-ng sox). A re-run with
# the same options does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.cache/sample-catalog}
shift || true
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "make-sample-catalog: $tool is required (apt-get install $tool)" >&2; exit 1; }
done
exec go run ./cmd/mksample -out "$OUT" "$@"
