#!/usr/bin/env bash
# The demo: start omnirank with every role on embedded NATS and S3, ingest the
# sample catalogue through the API (the bucket's events trigger ingestion),
# wait until it is searchable, answer text, image and audio queries,
# evaluate the sample queries with omnirank eval, then run a re-embedding
# campaign onto starter-text@2, evaluate it side by side, promote it through
# the evaluation gate and roll back.
set -euo pipefail
BIN=${1:-bin/omnirank}
SAMPLE=${2:-.cache/sample-catalog}
DATA=$(mktemp -d -t omnirank-demo-XXXXXX)
GRPC=127.0.0.1:${OMNIRANK_DEMO_PORT:-50151}
LOG="$DATA/serve.log"
source "$(dirname "$0")/lib.sh"
cleanup() {
  stop_server
  if [ -n "${KEEP:-}" ]; then echo "data kept in $DATA"; else rm -rf "$DATA"; fi
}
trap cleanup EXIT

echo "== starting omnirank (all roles, embedded NATS + S3) in $DATA"
start_server

echo "== ingesting the sample catalogue from $SAMPLE"
"$BIN" ingest --addr "$GRPC" "$SAMPLE"
TOTAL=$(find "$SAMPLE" -mindepth 2 -maxdepth 2 -name product.json | wc -l)

echo "== waiting until the catalogue is searchable"
wait_indexed "$TOTAL"
if grep -q "speech recognition unavailable" "$LOG"; then
  echo "   (no speech recognition: PocketSphinx is not installed; voice queries are matched by sound only)"
  SPEECH=
else
  wait_speech_lm "$TOTAL"
  SPEECH=1
fi

echo
echo "== text query: \"running shoes\""
"$BIN" query --addr "$GRPC" --text "running shoes" -k 5
echo
echo "== text query: \"something sweet for dessert\" (diverse: MMR lambda 0.5)"
"$BIN" query --addr "$GRPC" --text "something sweet for dessert" -k 5 --mmr 0.5
# queries.json lists query files made from other renderings of catalogue
# products (another size, a crop and JPEG, another voice) and what each should find.
awk -F'"' '/"kind"/{k=$4} /"path"/{p=$4} /"text"/{p=$4} /"expect"/{print k "\t" p "\t" $4}' "$SAMPLE/queries/queries.json" |
while IFS=$'\t' read -r kind path expect; do
  echo
  case "$kind" in
    image|audio) echo "== $kind query: $path (made from $expect)"; "$BIN" query --addr "$GRPC" --"$kind" "$SAMPLE/$path" -k 3 ;;
    text) echo "== text query: \"$path\" (should find $expect)"; "$BIN" query --addr "$GRPC" --text "$path" -k 3 ;;
  esac
done
# Voice search: a title said by a voice the catalogue's voice-overs never
# use, transcribed with the catalogue's language model and searched as text.
SPOKEN_CLIP=$(find "$SAMPLE/queries/spoken" -name '*-v2.wav' 2>/dev/null | sort | head -1)
if [ -n "$SPEECH" ] && [ -n "$SPOKEN_CLIP" ]; then
  echo
  echo "== spoken query: $(grep -F "\"spoken-$(basename "$SPOKEN_CLIP" .wav)\"" "$SAMPLE/queries/spoken.jsonl" | sed -n 's/.*"said":"\([^"]*\)".*/"\1"/p') said by espeak-ng en-gb-scotland ($SPOKEN_CLIP)"
  "$BIN" query --addr "$GRPC" --audio "$SPOKEN_CLIP" --audio-mode speech -k 3
fi
echo
"$BIN" status --addr "$GRPC" --errors 5
# The same sample queries as a labelled query file: Recall, NDCG and MRR
# at 10 per query kind (a query "finds" the product it was made from).
if [ -f "$SAMPLE/queries/eval.jsonl" ]; then
  echo
  echo "== offline evaluation of the active space on $SAMPLE/queries/eval.jsonl"
  "$BIN" eval --addr "$GRPC" --queries "$SAMPLE/queries/eval.jsonl" -k 10
fi

# A re-embedding campaign: the server learns starter-text@2 from WordNet in
# the background at first start (the @1 character n-grams plus word vectors
# that know synonyms); a second space adopts it for its text block. Image
# and audio features are reused, text re-encoded. Skipped without WordNet.
echo
echo "== waiting for starter-text@2 (learnt from WordNet in the background)"
wait_text2 || { echo "skipping the campaign"; exit 0; }
echo
echo "== re-embedding campaign into starter-v2 (text block on starter-text@2)"
campaign_v2
echo
echo "== \"couch\" side by side, vector only: starter-v1 (active) and starter-v2"
"$BIN" query --addr "$GRPC" --text "couch" -k 3 --lexical-weight 0
"$BIN" query --addr "$GRPC" --text "couch" -k 3 --lexical-weight 0 --space starter-v2
# The held-out half of the WordNet synonym queries (none shares a word with
# the titles it should find): the evaluation promote's gate reads.
if [ -f "$SAMPLE/queries/synonyms.jsonl" ]; then
  grep '"id":"syn-test-' "$SAMPLE/queries/synonyms.jsonl" >"$DATA/synonyms-test.jsonl"
  echo
  echo "== evaluate starter-v1 and starter-v2 side by side on $(wc -l <"$DATA/synonyms-test.jsonl") held-out synonym queries (hybrid, as served)"
  "$BIN" campaign evaluate --addr "$GRPC" --queries "$DATA/synonyms-test.jsonl" -k 10
  echo
  echo "== promote through the evaluation gate, then roll back"
  "$BIN" campaign promote --addr "$GRPC"
else
  echo
  echo "== promote (--force: no labelled synonym queries in this sample) and roll back"
  "$BIN" campaign promote --addr "$GRPC" --force
fi
"$BIN" spaces list --addr "$GRPC"
"$BIN" campaign rollback --addr "$GRPC"

if [ -f "$SAMPLE/queries/eval.jsonl" ]; then
  REPORT=${REPORT_DIR:-.cache/eval-report}
  echo
  echo "== evaluation report (metrics against k, per-modality ablation) into $REPORT"
  "$BIN" eval --addr "$GRPC" --queries "$SAMPLE/queries/eval.jsonl" -k 10 --report "$REPORT" >/dev/null
  echo "report: $REPORT/report.html (and report.md)"
fi
