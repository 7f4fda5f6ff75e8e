#!/usr/bin/env bash
# The voice-search table of docs/VOICE.md: the sample catalogue indexed
# with every role on embedded NATS and S3, the catalogue's speech language
# model built from it, then omnirank eval of queries/spoken.jsonl (titles
# said by three espeak-ng voices other than the voice-overs', clean and at
# 10 dB SNR) with the clip used as sound (the starter audio model alone),
# as speech (transcribed, searched as hybrid text) and as both. Prints a
# Markdown table; takes a few minutes on 2 cores.
#
#   make build sample && bash scripts/voice.sh [BIN] [SAMPLE]
set -euo pipefail
BIN=${1:-bin/omnirank}
SAMPLE=${2:-.cache/sample-catalog}
DATA=$(mktemp -d -t omnirank-voice-XXXXXX)
GRPC=127.0.0.1:${OMNIRANK_VOICE_PORT:-50171}
LOG="$DATA/serve.log"
source "$(dirname "$0")/lib.sh"
trap 'stop_server; rm -rf "$DATA"' EXIT

SPOKEN="$SAMPLE/queries/spoken.jsonl"
[ -f "$SPOKEN" ] || { echo "no $SPOKEN: rebuild the sample (make sample)"; exit 1; }
# eval resolves audio paths against the query file's folder.
grep -v -- '-noise"' "$SPOKEN" >"$SAMPLE/queries/.spoken-clean.jsonl"
grep -- '-noise"' "$SPOKEN" >"$SAMPLE/queries/.spoken-noise.jsonl"
trap 'stop_server; rm -rf "$DATA" "$SAMPLE/queries/.spoken-clean.jsonl" "$SAMPLE/queries/.spoken-noise.jsonl"' EXIT

start_server >&2
"$BIN" ingest --addr "$GRPC" "$SAMPLE" >&2
products=$(find "$SAMPLE" -mindepth 2 -maxdepth 2 -name product.json | wc -l)
wait_indexed "$products" >&2
wait_speech_lm "$products" >&2

row() {
  local mode=$1 cells="" file
  for file in "$SAMPLE/queries/.spoken-clean.jsonl" "$SAMPLE/queries/.spoken-noise.jsonl" "$SPOKEN"; do
    cells+=$("$BIN" eval --addr "$GRPC" --queries "$file" -k 10 --audio-mode "$mode" --json |
      python3 -c 'import json,sys
r=json.load(sys.stdin); a=r["all"]; s=r.get("speech")
wer="%.3f" % s["wer"] if s else "–"
print(" %.3f / %.3f / %s |" % (a["recall_at_k"], a["mrr_at_k"], wer), end="")')
  done
  echo "| $mode |$cells"
}
echo "| audio used as | clean ($(wc -l <"$SAMPLE/queries/.spoken-clean.jsonl") q): R@10 / MRR@10 / WER | 10 dB SNR ($(wc -l <"$SAMPLE/queries/.spoken-noise.jsonl") q) | all ($(wc -l <"$SPOKEN") q) |"
echo "|---|---|---|---|"
row sound
row speech
row both

# Per voice, the clip used as speech: word error rate and R@10 (clean and
# noisy clips together).
echo
echo "| voice (speech) | queries | R@10 | MRR@10 | WER |"
echo "|---|---|---|---|---|"
"$BIN" eval --addr "$GRPC" --queries "$SPOKEN" -k 10 --audio-mode speech --json --per-query |
  python3 -c 'import json,sys,collections
voices=["en-gb 140 wpm","en-gb-scotland 170 wpm","en-us+f3 130 wpm"]
g=collections.defaultdict(lambda: [0,0.0,0.0,0,0])
for q in json.load(sys.stdin)["per_query"]:
    v=int(q["id"].replace("-noise","").rsplit("-v",1)[1])-1
    s=g[voices[v]]; s[0]+=1; s[1]+=q.get("recall_at_k",0); s[2]+=q.get("mrr_at_k",0); s[3]+=q.get("word_errors",0); s[4]+=q.get("said_words",0)
for v in voices:
    n,r,m,e,w=g[v]; print("| %s | %d | %.3f | %.3f | %.3f |" % (v,n,r/n,m/n,e/max(w,1)))'
