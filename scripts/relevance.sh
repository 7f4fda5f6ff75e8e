#!/usr/bin/env bash
# The relevance table of docs/RELEVANCE.md: the sample catalogue indexed in
# starter-v1 (text: starter-text@1) and, through a re-embedding campaign, in
# starter-v2 (text: starter-text@2, learnt from WordNet); then omnirank eval
# of every query file, on both spaces, vector only (--lexical-weight 0),
# lexical only (1) and hybrid (the default, RRF); the lexical-only and
# hybrid rows once more with WordNet query expansion off, the default (a
# restart on the same data). Prints a Markdown table; takes a few minutes on 2 cores.
#
#   make build sample && bash scripts/relevance.sh [BIN] [SAMPLE]
set -euo pipefail
BIN=${1:-bin/omnirank}
SAMPLE=${2:-.cache/sample-catalog}
DATA=$(mktemp -d -t omnirank-relevance-XXXXXX)
GRPC=127.0.0.1:${OMNIRANK_RELEVANCE_PORT:-50161}
LOG="$DATA/serve.log"
source "$(dirname "$0")/lib.sh"
trap 'stop_server; rm -rf "$DATA"' EXIT

grep '"id":"syn-dev-' "$SAMPLE/queries/synonyms.jsonl" >"$DATA/synonyms-dev.jsonl"
grep '"id":"syn-test-' "$SAMPLE/queries/synonyms.jsonl" >"$DATA/synonyms-test.jsonl"
grep '"text"' "$SAMPLE/queries/eval.jsonl" >"$DATA/eval-text.jsonl" || true
FILES="synonyms-test=$DATA/synonyms-test.jsonl synonyms-dev=$DATA/synonyms-dev.jsonl titles=$SAMPLE/queries/titles.jsonl sample-text=$DATA/eval-text.jsonl"

start_server --query-expansion >&2
"$BIN" ingest --addr "$GRPC" "$SAMPLE" >&2
wait_indexed "$(find "$SAMPLE" -mindepth 2 -maxdepth 2 -name product.json | wc -l)" >&2
wait_text2 >&2
campaign_v2 >&2

# row LABEL SPACE [eval flags]: one table row per query file.
row() {
  local label=$1 space=$2; shift 2
  local cells="" name file
  for nf in $FILES; do
    name=${nf%%=*} file=${nf#*=}
    cells+=$("$BIN" eval --addr "$GRPC" --queries "$file" --space "$space" -k 10 --json "$@" |
      python3 -c 'import json,sys; a=json.load(sys.stdin)["all"]; print(" %.3f / %.3f / %.3f |" % (a["recall_at_k"], a["ndcg_at_k"], a["mrr_at_k"]), end="")')
  done
  echo "| $label |$cells"
}
header="| retrieval |"
rule="|---|"
for nf in $FILES; do
  header+=" ${nf%%=*} ($(wc -l <"${nf#*=}") q): R@10 / NDCG@10 / MRR@10 |"
  rule+="---|"
done
echo "$header"
echo "$rule"
row "vector, starter-text@1" starter-v1 --lexical-weight 0
row "vector, starter-text@2" starter-v2 --lexical-weight 0
row "lexical (BM25 + WordNet expansion)" starter-v1 --lexical-weight 1
row "hybrid RRF, starter-text@1 + expansion" starter-v1
row "hybrid RRF, starter-text@2 + expansion" starter-v2
stop_server
start_server --query-expansion=false >&2
row "lexical (BM25, no expansion)" starter-v1 --lexical-weight 1
row "hybrid RRF, starter-text@1, no expansion" starter-v1
row "hybrid RRF, starter-text@2, no expansion" starter-v2
