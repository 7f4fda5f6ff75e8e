// Command indexbench measures omnirank's vector index (package
// ranker/index, through bench/indexbench, with more knobs than `omnirank
// bench index`: -m, -ef-construction, -workers, -target, -seed, -python)
// against hnswlib and faiss on the same vectors — synthetic low-rank ones,
// or products encoded by the starter models (-dataset starter, package
// bench/starterdata, cached under .cache/indexbench) — and prints a
// table plus JSON results.
//
//	go run ./cmd/indexbench -n 100000 -dim 384 -baselines -quant none,int8,int8-only
//	go run ./cmd/indexbench -dataset starter -n 100000 -baselines
//	go run ./cmd/indexbench -n 1000000 -baselines -skip-baselines faiss
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omnirank/omnirank/bench/indexbench"
	"github.com/omnirank/omnirank/bench/starterdata"
	"github.com/omnirank/omnirank/ranker/index"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "indexbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg indexbench.BenchConfig
	flag.IntVar(&cfg.N, "n", 100000, "base vectors")
	flag.IntVar(&cfg.Dim, "dim", 384, "dimension")
	flag.IntVar(&cfg.Queries, "queries", 1000, "queries")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "dataset seed")
	flag.IntVar(&cfg.M, "m", 16, "HNSW M")
	flag.IntVar(&cfg.EfConstruction, "ef-construction", 200, "HNSW efConstruction")
	flag.IntVar(&cfg.Workers, "workers", 0, "build threads (0 = all cores)")
	flag.Float64Var(&cfg.TargetRecall, "target", 0.95, "recall@10 target for choosing ef")
	flag.DurationVar(&cfg.MinQueryTime, "min-query-time", time.Second, "minimum duration of the throughput loop")
	flag.BoolVar(&cfg.Flat, "flat", false, "also measure exact brute force")
	flag.BoolVar(&cfg.Baselines, "baselines", false, "run hnswlib and faiss through scripts/bench_baselines.py")
	skip := flag.String("skip-baselines", "", "comma-separated baselines not to run (hnswlib, faiss)")
	dataset := flag.String("dataset", "lowrank", "lowrank (synthetic, -dim) or starter (starter-model products; dimension of the starter space)")
	flag.StringVar(&cfg.Python, "python", "/usr/bin/python3", "Python with hnswlib and faiss")
	flag.StringVar(&cfg.Script, "script", "", "baseline script (default: scripts/bench_baselines.py above the working directory)")
	quants := flag.String("quant", "none", "comma-separated HNSW quantisations to measure (none, int8, int8-only)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	flag.Parse()
	for _, q := range strings.Split(*quants, ",") {
		qq, err := index.ParseQuantization(strings.TrimSpace(q))
		if err != nil {
			return err
		}
		cfg.Quantizations = append(cfg.Quantizations, qq)
	}
	for _, b := range strings.Split(*skip, ",") {
		switch b = strings.TrimSpace(b); b {
		case "":
		case "hnswlib", "faiss":
			cfg.SkipBaselines = append(cfg.SkipBaselines, b)
		default:
			return fmt.Errorf("-skip-baselines: unknown baseline %q (hnswlib, faiss)", b)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch *dataset {
	case "lowrank":
	case "starter":
		sc := starterdata.Config{N: cfg.N, Queries: cfg.Queries, Seed: cfg.Seed, Logger: cfg.Logger}
		d, err := starterdata.Load(ctx, sc)
		if err != nil {
			return err
		}
		cfg.Dataset, cfg.DatasetName = d, sc.Name()
	default:
		return fmt.Errorf("-dataset: unknown dataset %q (lowrank, starter)", *dataset)
	}

	res, err := indexbench.RunBench(ctx, cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "index\tn\tdim\tef\trecall@10\tqps(1 core, cpu)\tqps(wall)\tbuild s\tbytes/vec\tnote\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.4f\t%.0f\t%.0f\t%.1f\t%.0f\t%s\t\n", r.Index, r.N, r.Dim, r.Ef, r.RecallAt10, r.QPSOneCore, r.QPSWall, r.BuildS, r.BytesPerVector, r.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	fmt.Println(string(b))
	return nil
}
