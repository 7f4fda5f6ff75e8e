// Package indexbench owns `omnirank bench index` (and cmd/indexbench): it
// measures package ranker/index (HNSW at each quantisation, optionally
// Flat) on a synthetic low-rank dataset or a caller's (bench/starterdata),
// choosing for each the smallest ef that reaches a recall target, and runs
// hnswlib and faiss on the same vectors through scripts/bench_baselines.py
// for comparison: the one benchmark that starts an external program.
package indexbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/ranker/index"
)

// BenchConfig configures RunBench. Zero fields take the defaults noted.
type BenchConfig struct {
	N       int     // base vectors (100000)
	Dim     int     // dimension (384)
	Queries int     // queries (1000)
	Rank    int     // signal rank of the synthetic data (32)
	Noise   float64 // relative noise (0.1)
	Seed    uint64  // dataset seed (1)

	M              int                  // index.HNSW links (16)
	EfConstruction int                  // index.HNSW build candidate list (200)
	Quantizations  []index.Quantization // index.HNSW variants to measure ([index.QuantNone])
	Workers        int                  // build goroutines / threads (GOMAXPROCS)
	TargetRecall   float64              // recall@10 the chosen ef must reach (0.95)
	EfSweep        []int                // ef values tried in order (10 … 800)
	// MinQueryTime is how long the single-core throughput loop runs at
	// least (1 s); the query set is repeated to fill it.
	MinQueryTime time.Duration
	// Flat adds a row for exact brute force.
	Flat bool

	// Dataset, when not nil, replaces the synthetic dataset (N, Dim and
	// Queries are then taken from it, and Rank, Noise and Seed are unused);
	// DatasetName names it in the results.
	Dataset     *index.Dataset
	DatasetName string

	// Baselines runs hnswlib and faiss on the same vectors through Script
	// with Python (defaults /usr/bin/python3 and scripts/bench_baselines.py
	// found above the working directory).
	Baselines bool
	// SkipBaselines names baselines not to run ("hnswlib", "faiss"), e.g.
	// faiss, whose build takes over an hour at a million vectors on two
	// cores.
	SkipBaselines []string
	Python        string
	Script        string
	// TmpDir holds the exported vectors (os.TempDir()).
	TmpDir string
	Logger *slog.Logger // slog.Default()
}

// BenchResult is one measured index.
type BenchResult struct {
	Index      string  `json:"index"`
	Dataset    string  `json:"dataset"`
	N          int     `json:"n"`
	Dim        int     `json:"dim"`
	RecallAt10 float64 `json:"recall_at_10"`
	// QPSOneCore is single-thread queries per second of CPU time consumed
	// by the querying thread (robust on a shared machine); QPSWall divides by
	// wall time instead.
	QPSOneCore     float64 `json:"qps_one_core"`
	QPSWall        float64 `json:"qps_wall,omitempty"`
	BuildS         float64 `json:"build_s"`
	BytesPerVector float64 `json:"bytes_per_vector"`
	// Ef is the search ef that reached the target recall (0 for exact).
	Ef int `json:"ef,omitempty"`
	// Note explains a skipped baseline or a target recall never reached.
	Note string `json:"note,omitempty"`
}

func (c *BenchConfig) defaults() error {
	if d := c.Dataset; d != nil {
		if d.Dim <= 0 {
			return fmt.Errorf("%w: bench dataset dim %d", index.ErrInvalidOption, d.Dim)
		}
		c.N, c.Dim, c.Queries = d.N(), d.Dim, d.NQ()
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.N, 100000)
	def(&c.Dim, 384)
	def(&c.Queries, 1000)
	def(&c.Rank, 32)
	def(&c.M, 16)
	def(&c.EfConstruction, 200)
	def(&c.Workers, runtime.GOMAXPROCS(0))
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Noise == 0 {
		c.Noise = 0.1
	}
	if c.TargetRecall == 0 {
		c.TargetRecall = 0.95
	}
	if len(c.EfSweep) == 0 {
		c.EfSweep = []int{10, 16, 24, 32, 48, 64, 80, 100, 128, 150, 200, 256, 300, 400, 512, 800}
	}
	if len(c.Quantizations) == 0 {
		c.Quantizations = []index.Quantization{index.QuantNone}
	}
	if c.MinQueryTime == 0 {
		c.MinQueryTime = time.Second
	}
	if c.Python == "" {
		c.Python = "/usr/bin/python3"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.N < 10 || c.Queries < 1 || c.Dim < 1 || c.TargetRecall <= 0 || c.TargetRecall > 1 {
		return fmt.Errorf("%w: bench config n=%d queries=%d dim=%d target=%v", index.ErrInvalidOption, c.N, c.Queries, c.Dim, c.TargetRecall)
	}
	return nil
}

// RunBench generates a seeded low-rank-plus-noise dataset (or takes
// cfg.Dataset), computes exact ground truth with Flat (in parallel), then
// for each HNSW variant builds the index with cfg.Workers goroutines, finds
// the smallest ef in the sweep reaching cfg.TargetRecall recall@10 and
// measures single-goroutine (OS-thread-locked) queries per second at that
// ef. With cfg.Baselines it first runs hnswlib and faiss HNSW (less
// cfg.SkipBaselines) on the same vectors in the same run; their rows come
// last. Memory: the dataset is held once (the ground-truth Flat aliases
// it), one HNSW index at a time, and the Python baselines run before any
// HNSW index exists.
func RunBench(ctx context.Context, cfg BenchConfig) ([]BenchResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	name := fmt.Sprintf("lowrank%d-noise%g-seed%d", cfg.Rank, cfg.Noise, cfg.Seed)
	t0 := time.Now()
	var err error
	d := cfg.Dataset
	if d != nil {
		name = cfg.DatasetName
		if name == "" {
			name = "custom"
		}
	} else {
		d, err = index.GenerateDataset(index.DatasetConfig{N: cfg.N, Queries: cfg.Queries, Dim: cfg.Dim, Rank: cfg.Rank, Noise: cfg.Noise, Seed: cfg.Seed})
		if err != nil {
			return nil, err
		}
	}
	log.Info("bench dataset", "name", name, "n", cfg.N, "dim", cfg.Dim, "queries", cfg.Queries, "took", time.Since(t0).Round(time.Millisecond))

	// Ground truth with Flat. Its slab aliases the dataset (bulk load: ids
	// are row numbers; nothing writes to it), so that a million vectors are
	// held once, not twice.
	t0 = time.Now()
	ids := make([]string, cfg.N)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	flat, err := index.NewFlatFromRows(cfg.Dim, d.Base, ids)
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	gt := make([][]int32, cfg.Queries)
	err = parallelQueries(ctx, cfg.Queries, cfg.Workers, func(i int) error {
		hits, err := flat.Search(ctx, d.Query(i), index.SearchOptions{K: 10})
		if err != nil {
			return err
		}
		gt[i] = make([]int32, len(hits))
		for j, h := range hits {
			n, _ := strconv.Atoi(h.ID)
			gt[i][j] = int32(n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	log.Info("bench ground truth", "took", time.Since(t0).Round(time.Millisecond))

	var out, baselines []BenchResult
	if cfg.Baselines {
		// The baselines run first, while this process holds nothing but the
		// dataset and the ground truth, so that a Python process holding
		// its own copy of the vectors and an index fits beside it.
		debug.FreeOSMemory()
		if baselines, err = runBaselines(ctx, cfg, d, gt, name); err != nil {
			return nil, err
		}
	}
	if cfg.Flat {
		qps, wall, err := measureQPS(ctx, cfg, d, flat, index.SearchOptions{K: 10})
		if err != nil {
			return nil, err
		}
		st := flat.Stats()
		out = append(out, BenchResult{Index: "omnirank-flat", Dataset: name, N: cfg.N, Dim: cfg.Dim,
			RecallAt10: 1, QPSOneCore: qps, QPSWall: wall, BytesPerVector: st.BytesPerVector})
	}
	for _, q := range cfg.Quantizations {
		debug.FreeOSMemory() // hand the previous index back before the next
		r, err := benchHNSW(ctx, cfg, d, ids, gt, q)
		if err != nil {
			return nil, err
		}
		r.Dataset = name
		log.Info("bench result", "index", r.Index, "recall", r.RecallAt10, "qps", r.QPSOneCore, "ef", r.Ef, "build_s", r.BuildS)
		out = append(out, r)
	}
	return append(out, baselines...), nil
}

func benchHNSW(ctx context.Context, cfg BenchConfig, d *index.Dataset, ids []string, gt [][]int32, q index.Quantization) (BenchResult, error) {
	r := BenchResult{Index: "omnirank-hnsw", N: cfg.N, Dim: cfg.Dim}
	if q != index.QuantNone {
		r.Index += "-" + q.String()
	}
	h, err := index.NewHNSW(cfg.Dim, index.WithM(cfg.M), index.WithEfConstruction(cfg.EfConstruction), index.WithQuantization(q), index.WithCapacity(cfg.N), index.WithSeed(cfg.Seed))
	if err != nil {
		return r, err
	}
	vecs := make([][]float32, cfg.N)
	for i := range vecs {
		vecs[i] = d.Row(i)
	}
	t0 := time.Now()
	if err := h.UpsertBatch(ctx, ids, vecs, cfg.Workers); err != nil {
		return r, fmt.Errorf("build %s: %w", r.Index, err)
	}
	r.BuildS = time.Since(t0).Seconds()
	r.BytesPerVector = h.Stats().BytesPerVector
	cfg.Logger.Info("bench build", "index", r.Index, "build_s", r.BuildS, "bytes_per_vector", r.BytesPerVector)

	for _, ef := range cfg.EfSweep {
		rec, err := benchRecall(ctx, cfg, d, h, gt, ef)
		if err != nil {
			return r, err
		}
		cfg.Logger.Info("bench sweep", "index", r.Index, "ef", ef, "recall", rec)
		r.Ef, r.RecallAt10 = ef, rec
		if rec >= cfg.TargetRecall {
			break
		}
	}
	if r.RecallAt10 < cfg.TargetRecall {
		r.Note = fmt.Sprintf("target recall %.3f not reached in the ef sweep", cfg.TargetRecall)
	}
	r.QPSOneCore, r.QPSWall, err = measureQPS(ctx, cfg, d, h, index.SearchOptions{K: 10, Ef: r.Ef})
	return r, err
}

// benchRecall is the mean recall@10 of h at ef, queries run in parallel.
func benchRecall(ctx context.Context, cfg BenchConfig, d *index.Dataset, h index.Index, gt [][]int32, ef int) (float64, error) {
	var found atomic.Int64
	total := 0
	for _, g := range gt {
		total += len(g)
	}
	err := parallelQueries(ctx, cfg.Queries, cfg.Workers, func(i int) error {
		hits, err := h.Search(ctx, d.Query(i), index.SearchOptions{K: 10, Ef: ef})
		if err != nil {
			return err
		}
		want := make(map[int32]bool, len(gt[i]))
		for _, g := range gt[i] {
			want[g] = true
		}
		for _, hit := range hits {
			n, _ := strconv.Atoi(hit.ID)
			if want[int32(n)] {
				found.Add(1)
			}
		}
		return nil
	})
	return float64(found.Load()) / float64(max(total, 1)), err
}

// measureQPS runs the queries one at a time on one locked OS thread until
// cfg.MinQueryTime of that thread's CPU time has passed, and returns queries
// per CPU second and per wall second.
func measureQPS(ctx context.Context, cfg BenchConfig, d *index.Dataset, ix index.Index, opts index.SearchOptions) (cpuQPS, wallQPS float64, err error) {
	type res struct {
		cpu, wall float64
		err       error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		n := 0
		c0, haveCPU := threadCPU()
		t0 := time.Now()
		spent := func() time.Duration {
			if c1, ok := threadCPU(); ok && haveCPU {
				return c1 - c0
			}
			return time.Since(t0)
		}
		for spent() < cfg.MinQueryTime || n == 0 {
			for i := range d.NQ() {
				if _, err := ix.Search(ctx, d.Query(i), opts); err != nil {
					c <- res{err: err}
					return
				}
			}
			n += d.NQ()
		}
		c <- res{cpu: float64(n) / spent().Seconds(), wall: float64(n) / time.Since(t0).Seconds()}
	}()
	r := <-c
	return r.cpu, r.wall, r.err
}

func parallelQueries(ctx context.Context, n, workers int, f func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// findScript looks for scripts/bench_baselines.py in the working directory
// and its parents.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "bench_baselines.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/bench_baselines.py not found above the working directory")
		}
		dir = parent
	}
}

// runBaselines exports the vectors and ground truth as raw little-endian
// files and runs the Python baseline script on them.
func runBaselines(ctx context.Context, cfg BenchConfig, d *index.Dataset, gt [][]int32, name string) ([]BenchResult, error) {
	script := cfg.Script
	if script == "" {
		var err error
		if script, err = findScript(); err != nil {
			return nil, fmt.Errorf("baselines: %w", err)
		}
	}
	dir, err := os.MkdirTemp(cfg.TmpDir, "omnirank-bench-*")
	if err != nil {
		return nil, fmt.Errorf("baselines: %w", err)
	}
	defer os.RemoveAll(dir)
	gtFlat := make([]float32, 0, len(gt)*10)
	for _, g := range gt {
		for j := range 10 {
			v := int32(-1)
			if j < len(g) {
				v = g[j]
			}
			gtFlat = append(gtFlat, math.Float32frombits(uint32(v)))
		}
	}
	for file, data := range map[string][]float32{"base.f32": d.Base, "queries.f32": d.Queries, "gt.i32": gtFlat} {
		if err := writeRaw(filepath.Join(dir, file), data); err != nil {
			return nil, fmt.Errorf("baselines: %w", err)
		}
	}
	var only []string
	for _, b := range []string{"hnswlib", "faiss"} {
		if !slices.Contains(cfg.SkipBaselines, b) {
			only = append(only, b)
		}
	}
	if len(only) == 0 {
		return nil, nil
	}
	efs := make([]string, len(cfg.EfSweep))
	for i, e := range cfg.EfSweep {
		efs[i] = strconv.Itoa(e)
	}
	args := []string{script, "--dir", dir, "--n", strconv.Itoa(cfg.N), "--dim", strconv.Itoa(cfg.Dim),
		"--queries", strconv.Itoa(cfg.Queries), "--m", strconv.Itoa(cfg.M), "--ef-construction", strconv.Itoa(cfg.EfConstruction),
		"--threads", strconv.Itoa(cfg.Workers), "--target", strconv.FormatFloat(cfg.TargetRecall, 'f', -1, 64),
		"--ef-sweep", strings.Join(efs, ","), "--min-query-time", strconv.FormatFloat(cfg.MinQueryTime.Seconds(), 'f', -1, 64),
		"--dataset", name, "--only", strings.Join(only, ",")}
	cmd := exec.CommandContext(ctx, cfg.Python, args...)
	var stdout bytes.Buffer
	stderr := &lineLogger{log: cfg.Logger}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cfg.Logger.Info("bench baselines", "python", cfg.Python, "script", script)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("baselines: %s: %w: %s", cfg.Python, err, strings.TrimSpace(lastLines(stderr.all.String(), 5)))
	}
	var out []BenchResult
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r BenchResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("baselines: bad output line %q: %w", line, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// lineLogger logs each line written to it (the baseline script's progress)
// and keeps everything for error messages.
type lineLogger struct {
	log  *slog.Logger
	all  bytes.Buffer
	part []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.all.Write(p)
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.log.Info("baseline", "msg", string(l.part[:i]))
		l.part = l.part[i+1:]
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func writeRaw(path string, data []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b [4]byte
	for _, x := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		if _, err := w.Write(b[:]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
