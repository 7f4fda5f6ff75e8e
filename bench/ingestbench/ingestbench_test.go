package ingestbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A small ingest benchmark runs end to end: nothing lost, nothing
// duplicated, and the numbers are consistent with each other.
func TestBenchIngestSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := BenchIngest(ctx, BenchIngestOptions{Products: 20, Singles: 3, Concurrency: 4, ImageSide: 128,
		AudioSeconds: 1, FusionWait: time.Second, Timeout: 2 * time.Minute, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Products != 20 || res.Singles != 3 {
		t.Errorf("measured %d products and %d singles, want 20 and 3", res.Products, res.Singles)
	}
	if res.Lost != 0 || res.Duplicated != 0 {
		t.Errorf("lost %d, duplicated %d, want none", res.Lost, res.Duplicated)
	}
	if res.ProductsPerS <= 0 || res.FreshnessP50Ms <= 0 || res.FreshnessP99Ms < res.FreshnessP50Ms || res.SingleProductP99Ms <= 0 {
		t.Errorf("inconsistent numbers: %+v", res)
	}
	if res.ElapsedS < res.UploadS {
		t.Errorf("bulk run %gs is shorter than its upload %gs", res.ElapsedS, res.UploadS)
	}
	var fields map[string]any
	data, _ := json.Marshal(res)
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"products", "products_per_s", "freshness_p50_ms", "freshness_p99_ms", "single_product_p99_ms", "lost", "duplicated"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("JSON result lacks %q: %s", f, data)
		}
	}
}

func TestBenchIngestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts BenchIngestOptions
		ok   bool
	}{
		{"defaults", BenchIngestOptions{}, true},
		{"negative products", BenchIngestOptions{Products: -1}, false},
		{"negative concurrency", BenchIngestOptions{Concurrency: -3}, false},
		{"negative fusion wait", BenchIngestOptions{FusionWait: -time.Second}, false},
		{"tiny image", BenchIngestOptions{ImageSide: 4}, false},
		{"endless audio", BenchIngestOptions{AudioSeconds: 600}, false},
		{"no singles", BenchIngestOptions{Singles: -1}, true},
		{"jpeg pictures", BenchIngestOptions{ImageFormat: "jpeg"}, true},
		{"gif pictures", BenchIngestOptions{ImageFormat: "gif"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.defaults()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidBenchOptions)) {
				t.Fatalf("defaults() = %v, want ok=%v (or ErrInvalidBenchOptions)", err, tc.ok)
			}
		})
	}
	// The bench refuses bad options before starting anything.
	if _, err := BenchIngest(context.Background(), BenchIngestOptions{Products: -5}); !errors.Is(err, ErrInvalidBenchOptions) {
		t.Fatalf("BenchIngest with -5 products: %v, want ErrInvalidBenchOptions", err)
	}
}

func TestPercentile(t *testing.T) {
	ds := func(ms ...int) []time.Duration {
		var out []time.Duration
		for _, m := range ms {
			out = append(out, time.Duration(m)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ds(7), 99, 7 * time.Millisecond},
		{ds(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{ds(5, 1, 4, 2, 3), 99, 5 * time.Millisecond},
		{ds(5, 1, 4, 2, 3), 20, 1 * time.Millisecond},
		{ds(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 90, 90 * time.Millisecond},
	} {
		in := slices.Clone(tc.in)
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %g) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("percentile reordered its input")
		}
	}
}

// The generated media decode as what they claim to be and differ per seed.
func TestBenchMediaDiffer(t *testing.T) {
	for _, tc := range []struct {
		format string
		decode func(io.Reader) (image.Config, error)
	}{{"png", png.DecodeConfig}, {"jpeg", jpeg.DecodeConfig}} {
		a, err := benchImage(1, 64, tc.format)
		if err != nil {
			t.Fatal(err)
		}
		b, err := benchImage(2, 64, tc.format)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := tc.decode(bytes.NewReader(a))
		if err != nil || cfg.Width != 64 || cfg.Height != 64 || slices.Equal(a, b) {
			t.Errorf("%s pictures: %+v (%v), equal for two seeds: %v", tc.format, cfg, err, slices.Equal(a, b))
		}
	}
	w1, w2 := benchWAV(1, 0.5), benchWAV(2, 0.5)
	if string(w1[:4]) != "RIFF" || len(w1) != 44+2*8000 || slices.Equal(w1, w2) {
		t.Errorf("clips: header %q, %d bytes (want %d), equal for two seeds: %v", w1[:4], len(w1), 44+2*8000, slices.Equal(w1, w2))
	}
}

// BenchmarkIngest runs the ingest benchmark (1000 products, or
// OMNIRANK_BENCH_PRODUCTS) once per iteration and reports its numbers:
//
//	go test -run '^$' -bench BenchmarkIngest -benchtime 1x ./server/
func BenchmarkIngest(b *testing.B) {
	n := 1000
	if v := os.Getenv("OMNIRANK_BENCH_PRODUCTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("OMNIRANK_BENCH_PRODUCTS=%q: %v", v, err)
		}
	}
	for b.Loop() {
		res, err := BenchIngest(context.Background(), BenchIngestOptions{Products: n, CompareBare: true,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		if err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(res)
		b.Logf("%s", data)
		b.ReportMetric(res.ProductsPerS, "products/s")
		b.ReportMetric(res.FreshnessP50Ms, "freshness-p50-ms")
		b.ReportMetric(res.FreshnessP99Ms, "freshness-p99-ms")
		b.ReportMetric(res.SingleProductP99Ms, "single-p99-ms")
		b.ReportMetric(float64(res.Lost), "lost")
		b.ReportMetric(float64(res.Duplicated), "duplicated")
		b.ReportMetric(res.RatioToSlowestBare, "ratio-to-slowest-bare")
		b.ReportMetric(res.RatioToCombinedBare, "ratio-to-combined-bare")
	}
}

// quietLogger keeps the server's lines out of the test output unless -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
