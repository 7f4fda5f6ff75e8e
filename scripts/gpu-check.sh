#!/usr/bin/env bash
# gpu-check: on a machine with an NVIDIA GPU, load every starter model (and
# any model folders given with --models DIR,...) with ONNX Runtime's CUDA
# execution provider and with its CPU provider, encode the same inputs, and
# print max abs difference and min cosine per model. Exits non-zero when
# CUDA cannot be loaded or outputs differ beyond the tolerances.
#
#   scripts/gpu-check.sh [--models DIR,...] [--max-abs 1e-3] [--min-cos 0.9999]
#
# ONNX Runtime: $ONNXRUNTIME_LIB when set, else the CUDA build that
# scripts/fetch-onnxruntime-cuda.sh installs (ORT 1.29.0 core + CUDA
# provider; `make gpu-check` fetches it). CUDA 13 and cuDNN 9 libraries must
# be loadable: when the loader does not find libcublasLt.so.13 and
# libcudnn.so.9, this script looks in the nvidia-* Python wheels of
# python3's site-packages and in /usr/local/cuda and adds what it finds to
# LD_LIBRARY_PATH. Verified on an NVIDIA H200, driver 580, 2026-11-27: see
# docs/GPU.md for the numbers.
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
if [ -z "${ONNXRUNTIME_LIB:-}" ]; then
	dir=$(bash scripts/fetch-onnxruntime-cuda.sh | tail -1)
	export ONNXRUNTIME_LIB="$dir/libonnxruntime.so.1"
fi
# CUDA 13 / cuDNN 9 from the loader cache, else from Python wheels or /usr/local/cuda.
if ! ldconfig -p | grep -q 'libcublasLt.so.13' || ! ldconfig -p | grep -q 'libcudnn.so.9'; then
	roots=(/usr/local/cuda)
	if site=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); then
		read -r -a more <<<"$site"
		roots+=("${more[@]}")
	fi
	found=$(find "${roots[@]}" \( -name 'libcublasLt.so.13' -o -name 'libcudnn.so.9' -o -name 'libcufft.so.12' \
		-o -name 'libcurand.so.10' -o -name 'libcudart.so.13' -o -name 'libnvrtc.so.13' \) 2>/dev/null |
		xargs -r -n1 dirname | sort -u | tr '\n' ':')
	export LD_LIBRARY_PATH="${found}${LD_LIBRARY_PATH:-}"
	echo "CUDA libraries from: ${found:-<none found>}"
fi
echo "ONNX Runtime library: $ONNXRUNTIME_LIB"
# Map --flag to the Go program's -flag form.
args=()
for a in "$@"; do
	case "$a" in
	--*) args+=("-${a#--}") ;;
	*) args+=("$a") ;;
	esac
done
exec go run ./cmd/gpu-check "${args[@]+"${args[@]}"}"
