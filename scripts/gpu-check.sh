#!/usr/bin/env bash
# gpu-check: on a machine with an NVIDIA GPU, load every starter model (and
# any model folders given with --models DIR,...) with ONNX Runtime's CUDA
# execution provider and with its CPU provider, encode the same inputs, and
# print max abs difference and min cosine per model. Exits non-zero when
# CUDA cannot be loaded or outputs differ beyond the tolerances.
#
#   ONNXRUNTIME_LIB=/path/to/cuda/libonnxruntime.so scripts/gpu-check.sh [--max-abs 1e-3] [--min-cos 0.9999]
#
# UNVERIFIED: this has not run on a GPU yet. The CPU build of ONNX Runtime
# that `make setup` installs has no CUDA provider, so on it every model
# reports "CUDA UNAVAILABLE" and the script exits 1. A CUDA-enabled
# libonnxruntime.so (with libonnxruntime_providers_cuda.so and
# libonnxruntime_providers_shared.so beside it, CUDA and cuDNN on the loader
# path) is needed; point ONNXRUNTIME_LIB at it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1; then
	echo "gpu-check: nvidia-smi not found: no NVIDIA driver on this machine" >&2
	exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || {
	echo "gpu-check: nvidia-smi cannot talk to a GPU" >&2
	exit 1
}
echo "ONNX Runtime library: ${ONNXRUNTIME_LIB:-<setup cache default>}"
# Map --flag to the Go program's -flag form.
args=()
for a in "$@"; do
	case "$a" in
	--*) args+=("-${a#--}") ;;
	*) args+=("$a") ;;
	esac
done
exec go run ./extractors/cmd/gpu-check "${args[@]+"${args[@]}"}"
