# Shared steps of scripts/demo.sh and scripts/relevance.sh; source it with
# BIN, SAMPLE, DATA, GRPC and LOG set.

# start_server [serve flags...]: omnirank serve with every role on embedded
# NATS and S3 in $DATA, in the background ($PID); returns once it answers.
start_server() {
  "$BIN" serve --data-dir "$DATA" --grpc-addr "$GRPC" --http-addr "" --fusion-wait 2s "$@" >>"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 1 150); do
    if "$BIN" status --addr "$GRPC" >/dev/null 2>&1; then return 0; fi
    kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "omnirank serve exited"; exit 1; }
    sleep 0.2
  done
  echo "omnirank serve did not answer in 30 s"; tail -50 "$LOG"; exit 1
}

# stop_server: SIGTERM (graceful shutdown) and wait.
stop_server() {
  if [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  PID=
}

# wait_indexed N: until the active space holds N vectors and no job waits.
wait_indexed() {
  local total=$1 start st vectors pending
  start=$(date +%s)
  while :; do
    st=$("$BIN" status --addr "$GRPC" --errors 0)
    vectors=$(echo "$st" | sed -n 's/^space .*(active): \([0-9]*\) vectors.*/\1/p')
    pending=$(echo "$st" | awk '/^pending/ {s+=$3} END {print s+0}')
    echo "   indexed ${vectors:-0}/$total, pending jobs $pending"
    if [ "${vectors:-0}" -ge "$total" ] && [ "$pending" -eq 0 ]; then return 0; fi
    if [ $(( $(date +%s) - start )) -gt 300 ]; then echo "timed out"; tail -50 "$LOG"; exit 1; fi
    sleep 1
  done
}

# wait_text2: until the server has registered starter-text@2 (learnt from
# WordNet in the background at first start); fails without WordNet.
wait_text2() {
  local start
  start=$(date +%s)
  until "$BIN" models --addr "$GRPC" show starter-text@2 >/dev/null 2>&1; do
    if grep -q 'starter-text@2 not registered' "$LOG" || [ $(( $(date +%s) - start )) -gt 300 ]; then
      echo "starter-text@2 is not available (install wordnet-base: make deps)"
      return 1
    fi
    sleep 2
  done
  echo "   starter-text@2 registered after $(( $(date +%s) - start )) s of waiting"
}

# campaign_v2: a space starter-v2 whose text block is starter-text@2 (image
# and audio as in starter-v1, their features reused), filled by a
# re-embedding campaign; returns when the campaign is done.
campaign_v2() {
  "$BIN" spaces create starter-v2 --addr "$GRPC" --block text=starter-text@2 \
    --block image=starter-image@1 --block audio=starter-audio@1:0.5
  "$BIN" campaign start --addr "$GRPC" --space starter-v2
  "$BIN" campaign watch --addr "$GRPC"
}

# wait_speech_lm N: until the ranker has loaded a speech language model
# built from N products (speech recognition on; logged by the server).
wait_speech_lm() {
  local n=$1 start version
  start=$(date +%s)
  while :; do
    version=$(grep "speech language model published" "$LOG" | grep "products=$n " | tail -1 | sed -n 's/.*version=\([^ ]*\).*/\1/p')
    if [ -n "$version" ] && grep "speech language model loaded" "$LOG" | grep -q "version=$version"; then
      echo "   speech language model $version of $n products loaded"
      return 0
    fi
    if [ $(( $(date +%s) - start )) -gt 300 ]; then echo "no speech language model of $n products (PocketSphinx installed? make deps)"; tail -20 "$LOG"; exit 1; fi
    sleep 1
  done
}
