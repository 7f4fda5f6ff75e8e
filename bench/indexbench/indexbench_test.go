package indexbench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/ranker/index"
)

func TestRunBench(t *testing.T) {
	cfg := BenchConfig{N: 1500, Dim: 16, Queries: 50, EfConstruction: 64, Flat: true,
		Quantizations: []index.Quantization{index.QuantNone, index.QuantInt8}, MinQueryTime: 20 * time.Millisecond}
	_, pyErr := os.Stat("/usr/bin/python3")
	_, scriptErr := findScript()
	cfg.Baselines = pyErr == nil && scriptErr == nil && !raceEnabled
	res, err := RunBench(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"omnirank-flat": true, "omnirank-hnsw": true, "omnirank-hnsw-int8": true}
	if cfg.Baselines {
		want["hnswlib"], want["faiss-hnsw"] = true, true
	}
	for _, r := range res {
		t.Logf("%+v", r)
		if !want[r.Index] {
			t.Fatalf("unexpected row %q", r.Index)
		}
		delete(want, r.Index)
		if strings.HasPrefix(r.Note, "skipped") {
			continue
		}
		if r.N != cfg.N || r.Dim != cfg.Dim || r.QPSOneCore <= 0 || r.BytesPerVector < float64(4*cfg.Dim) {
			t.Fatalf("implausible row %+v", r)
		}
		if r.RecallAt10 < 0.95 {
			t.Fatalf("%s recall %.4f below the 0.95 target", r.Index, r.RecallAt10)
		}
	}
	if len(want) != 0 {
		t.Fatalf("missing rows %v", want)
	}
	if _, err := RunBench(context.Background(), BenchConfig{N: 5, Dim: 4}); err == nil {
		t.Fatal("RunBench accepted n=5")
	}
}

// TestRunBenchDataset runs the benchmark on a caller's dataset with the
// int8-only index and faiss skipped.
func TestRunBenchDataset(t *testing.T) {
	d, err := index.GenerateDataset(index.DatasetConfig{N: 1200, Queries: 30, Dim: 24, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	cfg := BenchConfig{Dataset: d, DatasetName: "mine", EfConstruction: 64, Quantizations: []index.Quantization{index.QuantInt8Only},
		MinQueryTime: 20 * time.Millisecond, SkipBaselines: []string{"faiss"}}
	_, pyErr := os.Stat("/usr/bin/python3")
	_, scriptErr := findScript()
	cfg.Baselines = pyErr == nil && scriptErr == nil && !raceEnabled
	res, err := RunBench(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"omnirank-hnsw-int8-only"}
	if cfg.Baselines {
		want = append(want, "hnswlib")
	}
	if len(res) != len(want) {
		t.Fatalf("%d rows %+v, want %v", len(res), res, want)
	}
	for i, r := range res {
		t.Logf("%+v", r)
		if r.Index != want[i] || r.Dataset != "mine" || r.N != d.N() || r.Dim != d.Dim {
			t.Fatalf("row %d: %+v, want index %s on dataset mine", i, r, want[i])
		}
		if strings.HasPrefix(r.Note, "skipped") {
			continue
		}
		if r.RecallAt10 < 0.95 || r.QPSOneCore <= 0 {
			t.Fatalf("row %+v", r)
		}
	}
}
