#!/usr/bin/env bash
# Fetches the ONNX Runtime CPU shared library for linux-x64 from the npm package
# onnxruntime-node (npm pack runs no install scripts), checks its sha256 and
# places it in the omnirank cache folder. Idempotent.
set -euo pipefail
ORT_VERSION=1.30.0
LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
CACHE=${OMNIRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/omnirank}
DEST="$CACHE/onnxruntime-$ORT_VERSION"
LIB="$DEST/libonnxruntime.so.1"
if [ -f "$LIB" ] && echo "$LIB_SHA256  $LIB" | sha256sum -c --status; then
  echo "onnxruntime $ORT_VERSION already at $LIB"; exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "fetch-onnxruntime: only linux-x64 is scripted; set ONNXRUNTIME_LIB to your libonnxruntime" >&2; exit 1;;
esac
command -v npm >/dev/null || { echo "fetch-onnxruntime: npm is required (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent --ignore-scripts "onnxruntime-node@$ORT_VERSION" >/dev/null )
tar -xzf "$tmp"/onnxruntime-node-$ORT_VERSION.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
echo "$LIB_SHA256  $tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --status \
  || { echo "fetch-onnxruntime: checksum mismatch for libonnxruntime.so.1" >&2; exit 1; }
mkdir -p "$DEST"
mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$LIB"
echo "onnxruntime $ORT_VERSION installed at $LIB"
