#!/usr/bin/env bash
# make screenshots: the console's pictures for the README, taken by the
# browser test TestConsoleScreenshots (headless Chromium) against
# `omnirank serve` holding the sample catalogue.
#   scripts/screenshots.sh BIN SAMPLE OUTDIR
set -euo pipefail
BIN=$1 SAMPLE=$2 OUT=$3
DATA=$(mktemp -d)
GRPC=127.0.0.1:$((20000 + RANDOM % 20000))
HTTP=127.0.0.1:$((40000 + RANDOM % 20000))
LOG=$DATA/serve.log
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
trap 'stop_server; rm -rf "$DATA"' EXIT

start_server --http-addr "$HTTP"
"$BIN" ingest --addr "$GRPC" "$SAMPLE" >/dev/null 2>&1
wait_indexed "$(find "$SAMPLE" -mindepth 2 -maxdepth 2 -name product.json | wc -l)"
mkdir -p "$OUT"
OMNIRANK_CONSOLE_URL="http://$HTTP" OMNIRANK_SCREENSHOTS="$(cd "$OUT" && pwd)" \
  OMNIRANK_CONSOLE_QUERY="${OMNIRANK_CONSOLE_QUERY:-red shoes}" \
  go test -count=1 -run '^TestConsoleScreenshots$' -v ./server/
