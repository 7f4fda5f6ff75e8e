# omnirank — see README.md. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
GO ?= go
BIN := bin/omnirank
SAMPLE := .cache/sample-catalog
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
PROTOC_GEN_OPENAPIV2 := github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@v2.34.0
# The linter `make vet` runs (from the Go module proxy, cached after the first run).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
# The vulnerability scanner `make vet` runs (scripts/vulncheck.sh judges its findings).
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.10.0
# Debian packages the build, tests and demo use (wordnet-base: the WordNet
# 3.0 database starter-text@2, query expansion and the labelled sample
# queries are derived from; chromium: the console's browser tests;
# libpocketsphinx-dev, pocketsphinx-en-us: speech recognition through cgo,
# extractors/speech — build with -tags nopocketsphinx to go without).
APT_PKGS := npm espeak-ng sox wordnet-base chromium libpocketsphinx-dev pocketsphinx-en-us

.PHONY: chaos-short all setup deps onnxruntime sample build test test-short chaos vet vuln demo proto bench fuzz golden gpu-check onnxruntime-cuda screenshots clean

all: build

## setup: install system packages, ONNX Runtime and the sample catalogue
setup: deps onnxruntime sample

deps:
	@missing=""; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v sox >/dev/null || missing="$$missing sox"; \
	test -f /usr/share/wordnet/data.noun || missing="$$missing wordnet-base"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	test -f /usr/include/pocketsphinx/pocketsphinx.h || missing="$$missing libpocketsphinx-dev"; \
	test -f /usr/share/pocketsphinx/model/en-us/en-us/mdef || missing="$$missing pocketsphinx-en-us"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

onnxruntime: deps
	@bash scripts/fetch-onnxruntime.sh

sample: deps build
	@$(GO) run ./cmd/mksample -out $(SAMPLE)

build:
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cmd/omnirank

## vet: go vet, staticcheck (every default check; fails on any finding), gofmt and govulncheck
vet:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@$(MAKE) --no-print-directory vuln

## vuln: govulncheck; fails on a vulnerable dependency our code reaches, warns on
## standard-library findings (a newer Go fixes them) and on an unreachable
## vulnerability database; VULN_STRICT=1 fails on those too
vuln:
	@bash scripts/vulncheck.sh $(GO) run $(GOVULNCHECK)

## test: vet, then every test with the race detector
test: deps onnxruntime vet
	$(GO) test -race -count=1 -timeout 20m ./...

## chaos: the multi-process cluster (3 NATS nodes, every role in its own
## process) under random kill -9 of NATS nodes, rankers and extractors for
## DURATION while products arrive and queries run; prints one JSON summary
## (OMNIRANK_CHAOS_SEED=N repeats a run's fault plan). make chaos-short runs a short,
## scripted round of the same (TestClusterFaults).
DURATION ?= 5m
chaos: build onnxruntime
	OMNIRANK_BIN=$(abspath $(BIN)) OMNIRANK_CHAOS_DURATION=$(DURATION) $(GO) test -count=1 -v -timeout 3h -run '^TestChaos$$' ./chaos/

## chaos-short: the scripted round (TestClusterFaults) alone; `make test` runs it too
chaos-short: build onnxruntime
	OMNIRANK_BIN=$(abspath $(BIN)) $(GO) test -count=1 -v -timeout 30m -run '^TestClusterFaults$$' ./chaos/

test-short: onnxruntime
	$(GO) test -count=1 -short ./...

## demo: start everything, ingest the sample catalogue, answer sample queries
demo: setup build
	@bash scripts/demo.sh $(BIN) $(SAMPLE)

## screenshots: the console's search, product and pipeline pages in docs/
## (README shows them), photographed by a browser test (headless Chromium)
## against omnirank serve holding the sample catalogue
screenshots: setup build
	@bash scripts/screenshots.sh $(BIN) $(SAMPLE) docs

## proto: regenerate the committed gRPC code and the OpenAPI document of the
## JSON/HTTP API (REST paths from httpapi/omnirank_http.yaml)
proto:
	@command -v protoc >/dev/null || { echo "install protobuf-compiler (apt-get install protobuf-compiler)"; exit 1; }
	$(GO) install $(PROTOC_GEN_GO)
	$(GO) install $(PROTOC_GEN_GO_GRPC)
	$(GO) install $(PROTOC_GEN_OPENAPIV2)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc -I proto \
	  --go_out=paths=source_relative:proto --go-grpc_out=paths=source_relative:proto \
	  --openapiv2_out=httpapi \
	  --openapiv2_opt=grpc_api_configuration=httpapi/omnirank_http.yaml,output_format=json,allow_merge=true,merge_file_name=openapi,generate_unbound_methods=true \
	  proto/omnirank/v1/omnirank.proto

## bench: the measurements behind every speed claim (index baselines need Debian's python3-hnswlib and python3-faiss)
bench: build onnxruntime
	@if [ "$$(id -u)" = 0 ] && ! /usr/bin/python3 -c 'import hnswlib, faiss' 2>/dev/null; then \
	  apt-get install -y -qq python3-hnswlib python3-faiss >/dev/null; fi
	$(BIN) bench extract
	$(BIN) bench index

## fuzz: run every fuzz target for FUZZTIME each (default 60s)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzImageTensor -fuzztime $(FUZZTIME) ./extractors/preprocess/
	$(GO) test -run '^$$' -fuzz FuzzDecodeAudio -fuzztime $(FUZZTIME) ./extractors/preprocess/
	$(GO) test -run '^$$' -fuzz FuzzEncode -fuzztime $(FUZZTIME) ./extractors/preprocess/wordpiece/
	$(GO) test -run '^$$' -fuzz FuzzParseProduct -fuzztime $(FUZZTIME) ./storage/

## golden: regenerate the WordPiece golden ids with transformers.js (needs npm)
golden:
	cd scripts/golden-wordpiece && npm install --ignore-scripts --no-audit --no-fund && node gen.mjs

## onnxruntime-cuda: fetch a CUDA-capable ONNX Runtime (1.29.0 core + CUDA provider, ~275 MB)
onnxruntime-cuda: deps
	@bash scripts/fetch-onnxruntime-cuda.sh

## gpu-check: on a machine with an NVIDIA GPU, compare every model's CUDA outputs with CPU's
## (checks for the GPU first, then fetches the CUDA build of ONNX Runtime)
gpu-check: deps
	bash scripts/gpu-check.sh

clean:
	rm -rf bin data .cache
