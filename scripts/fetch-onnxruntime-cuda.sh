#!/usr/bin/env bash
# Fetches a CUDA-capable ONNX Runtime 1.29.0 for linux-x64 from two npm
# packages (npm pack runs no install scripts) and places it in the omnirank
# cache folder, checksums verified. Idempotent. Prints the folder.
#
#   core:     onnxruntime-node@1.29.0, package/bin/napi-v6/linux/x64/libonnxruntime.so.1
#             (built with ORT's CUDA provider bridge; the package's own install
#             script would fetch the provider, which does not work offline)
#   provider: com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9,
#             Plugins/Linux/x64/libonnxruntime_providers_{cuda,shared}.so
#             (ORT 1.29.0, CUDA 13, cuDNN 9, sm_70..sm_120; 230 MB)
#
# The two are the same ORT version, which the provider bridge requires. At run
# time the CUDA 13 libraries (cuBLAS/cuBLASLt, cudart, cuFFT, cuRAND, NVRTC)
# and cuDNN 9 must be on the loader path, e.g. from the nvidia-*-cu13 Python
# wheels: see docs/GPU.md. Verified on an NVIDIA H200 (driver 580) on 2026-11-27.
set -euo pipefail
ORT_VERSION=1.29.0
GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
CORE_SHA256=89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d
CUDA_SHA256=56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
SHARED_SHA256=c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
CACHE=${OMNIRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/omnirank}
DEST="$CACHE/onnxruntime-cuda-$ORT_VERSION"

check() { echo "$1  $2" | sha256sum -c --status; }
if check $CORE_SHA256 "$DEST/libonnxruntime.so.1" 2>/dev/null &&
	check $CUDA_SHA256 "$DEST/libonnxruntime_providers_cuda.so" 2>/dev/null &&
	check $SHARED_SHA256 "$DEST/libonnxruntime_providers_shared.so" 2>/dev/null; then
	echo "$DEST"; exit 0
fi
case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "fetch-onnxruntime-cuda: only linux-x64 is scripted" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "fetch-onnxruntime-cuda: npm is required (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --ignore-scripts "onnxruntime-node@$ORT_VERSION" "$GPU_PKG" >/dev/null)
mkdir -p "$tmp/core" "$tmp/gpu"
tar -xzf "$tmp"/onnxruntime-node-$ORT_VERSION.tgz -C "$tmp/core" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
tar -xzf "$tmp"/com.github.asus4.onnxruntime.linux-x64-gpu-*.tgz -C "$tmp/gpu" \
	package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
core="$tmp/core/package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
plug="$tmp/gpu/package/Plugins/Linux/x64"
check $CORE_SHA256 "$core" || { echo "fetch-onnxruntime-cuda: checksum mismatch for libonnxruntime.so.1" >&2; exit 1; }
check $CUDA_SHA256 "$plug/libonnxruntime_providers_cuda.so" || { echo "fetch-onnxruntime-cuda: checksum mismatch for the CUDA provider" >&2; exit 1; }
check $SHARED_SHA256 "$plug/libonnxruntime_providers_shared.so" || { echo "fetch-onnxruntime-cuda: checksum mismatch for providers_shared" >&2; exit 1; }
mkdir -p "$DEST"
mv "$core" "$plug/libonnxruntime_providers_cuda.so" "$plug/libonnxruntime_providers_shared.so" "$DEST/"
echo "$DEST"
