package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/omnirank/omnirank/bench/campaignbench"
	"github.com/omnirank/omnirank/bench/extractbench"
	"github.com/omnirank/omnirank/bench/indexbench"
	"github.com/omnirank/omnirank/bench/ingestbench"
	"github.com/omnirank/omnirank/bench/learnbench"
	"github.com/omnirank/omnirank/bench/loadtest"
	"github.com/omnirank/omnirank/bench/starterdata"
	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/server"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: omnirank bench extract|index|ingest|recommend|campaign|learn [flags]")
	}
	fs := flag.NewFlagSet("bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON array")
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The embedded S3 gateway (versitygw) prints banners to the process's
	// standard output; keep that clean for --json by sending them to
	// standard error. Our own output goes to stdout, captured above.
	defer func(orig *os.File) { os.Stdout = orig }(os.Stdout)
	os.Stdout = os.Stderr
	switch args[0] {
	case "extract":
		o := extractbench.BenchOptions{Logger: logger}
		fs.IntVar(&o.BatchSize, "batch", 32, "batch size for both paths")
		fs.IntVar(&o.Items, "items", 512, "inputs per measurement")
		fs.StringVar(&o.Device, "device", "cpu", "auto, cpu or cuda")
		fs.IntVar(&o.Rounds, "rounds", 3, "rounds, alternating the two paths; medians are reported")
		fs.BoolVar(&o.Spinning, "spinning", false, "let ONNX Runtime's threads spin between operators")
		fs.IntVar(&o.IntraOpThreads, "intra-op-threads", 0, "ONNX Runtime threads per operator, both paths (0: its default)")
		fs.Func("model-dir", "a local model folder (manifest.json, model.onnx, …) to measure for its modality instead of the starter model; repeatable", func(dir string) error {
			o.ModelDirs = append(o.ModelDirs, dir)
			return nil
		})
		fs.IntVar(&o.SpeechItems, "speech-items", 48, "spoken clips per speech measurement")
		modalitiesSet := false
		fs.Func("modalities", "comma-separated modalities to measure, speech (PocketSphinx) included (default: all and speech, or those of --model-dir)", func(v string) error {
			modalitiesSet = true
			for _, m := range strings.Split(v, ",") {
				if strings.TrimSpace(m) == "speech" {
					o.Speech = true
					continue
				}
				mod, err := extractors.ParseModality(strings.TrimSpace(m))
				if err != nil {
					return err
				}
				o.Modalities = append(o.Modalities, mod)
			}
			return nil
		})
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if !modalitiesSet && len(o.ModelDirs) == 0 {
			o.Modalities, o.Speech = extractors.Modalities, true
		}
		res, err := extractbench.BenchExtract(ctx, o)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		fmt.Fprintf(stdout, "%-8s %-22s %6s %16s %16s %7s\n", "modality", "model", "batch", "pipeline items/s", "bare items/s", "ratio")
		for _, r := range res {
			fmt.Fprintf(stdout, "%-8s %-22s %6d %16.1f %16.1f %7.3f", r.Modality, r.Model, r.BatchSize, r.PipelineItemsPerS, r.BareItemsPerS, r.Ratio)
			if r.MsPerAudioSecondP50 > 0 {
				fmt.Fprintf(stdout, "  ms per audio second p50 %.1f p99 %.1f (%.2f s clips)", r.MsPerAudioSecondP50, r.MsPerAudioSecondP99, r.AudioSecondsPerItem)
			}
			fmt.Fprintln(stdout)
		}
		return nil
	case "index":
		c := indexbench.BenchConfig{Logger: logger}
		fs.IntVar(&c.N, "n", 100000, "vectors")
		fs.IntVar(&c.Dim, "dim", 384, "dimension")
		fs.IntVar(&c.Queries, "queries", 1000, "queries")
		fs.BoolVar(&c.Baselines, "baselines", true, "also run hnswlib and faiss (Debian python3-hnswlib, python3-faiss) on the same vectors")
		skip := fs.String("skip-baselines", "", "comma-separated baselines not to run (hnswlib, faiss)")
		fs.BoolVar(&c.Flat, "flat", false, "add exact brute force")
		quants := fs.String("quant", "none,int8,int8-only", "comma-separated HNSW quantisations (none, int8, int8-only)")
		dataset := fs.String("dataset", "lowrank", "lowrank (synthetic, --dim) or starter (products encoded by the starter models, cached in .cache/indexbench)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		for q := range strings.SplitSeq(*quants, ",") {
			qq, err := index.ParseQuantization(strings.TrimSpace(q))
			if err != nil {
				return fmt.Errorf("--quant: %w", err)
			}
			c.Quantizations = append(c.Quantizations, qq)
		}
		for b := range strings.SplitSeq(*skip, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.SkipBaselines = append(c.SkipBaselines, b)
			}
		}
		switch *dataset {
		case "lowrank":
		case "starter":
			sc := starterdata.Config{N: c.N, Queries: c.Queries, Logger: logger}
			d, err := starterdata.Load(ctx, sc)
			if err != nil {
				return err
			}
			c.Dataset, c.DatasetName = d, sc.Name()
		default:
			return fmt.Errorf("--dataset: unknown dataset %q (lowrank, starter)", *dataset)
		}
		res, err := indexbench.RunBench(ctx, c)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		fmt.Fprintf(stdout, "%-22s %-24s %8s %5s %5s %8s %10s %9s %10s\n", "index", "dataset", "n", "dim", "ef", "recall", "qps/core", "build s", "bytes/vec")
		for _, r := range res {
			fmt.Fprintf(stdout, "%-22s %-24s %8d %5d %5d %8.3f %10.0f %9.1f %10.0f %s\n", r.Index, r.Dataset, r.N, r.Dim, r.Ef, r.RecallAt10, r.QPSOneCore, r.BuildS, r.BytesPerVector, r.Note)
		}
		return nil
	case "ingest":
		o := ingestbench.BenchIngestOptions{Logger: logger}
		fs.IntVar(&o.Products, "products", 1000, "products uploaded at once (image, audio, text each)")
		fs.IntVar(&o.Concurrency, "concurrency", 16, "concurrent uploads")
		fs.IntVar(&o.Singles, "singles", 20, "single products uploaded one at a time on the idle system")
		fs.BoolVar(&o.CompareBare, "compare-bare", true, "also measure the bare-model throughput of each modality")
		fs.StringVar(&o.ImageFormat, "image-format", "png", "format of the uploaded pictures: png (decoded at full size) or jpeg (quality 90, decoded at reduced scale)")
		fs.StringVar(&o.Device, "device", "cpu", "auto, cpu or cuda (ONNX Runtime execution provider, bare and pipeline alike)")
		fs.IntVar(&o.IntraOpThreads, "intra-op-threads", 0, "ONNX Runtime threads per operator (0: the server's default)")
		cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the bulk phase to this file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *cpuProfile != "" {
			f, err := createProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			o.CPUProfile = f
		}
		res, err := ingestbench.BenchIngest(ctx, o)
		if err != nil {
			return err
		}
		return writeJSON(stdout, res, !*asJSON)
	case "campaign":
		o := campaignbench.Options{Logger: logger}
		fs.IntVar(&o.Products, "products", 300, "catalogue size the campaign re-embeds")
		fs.IntVar(&o.Singles, "singles", 10, "live uploads timed idle and again during the campaign")
		fs.StringVar(&o.Device, "device", "cpu", "auto, cpu or cuda")
		fs.IntVar(&o.BatchSize, "batch-size", 16, "extraction batch (server and bare measurement)")
		fs.IntVar(&o.IntraOpThreads, "intra-op-threads", 0, "ONNX Runtime threads per operator (0: its default)")
		fs.IntVar(&o.Window, "window", 0, "the server's --campaign-window: backfill jobs and unfused features a campaign lets wait (0: its default)")
		fs.IntVar(&o.BareItems, "bare-items", 512, "texts the bare measurement encodes")
		backfillNice := fs.Int("backfill-nice", server.DefaultConfig().BackfillNice, "the server's --backfill-nice: nice value backfill batches are encoded at (0: normal priority)")
		fs.StringVar(&o.TextModelDir, "text-model-dir", "", "text model folder re-run by the campaign (e.g. the stand-in of `models build-standin`); default: the starter text model under another version")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		o.BackfillNice = backfillNice
		res, err := campaignbench.Run(ctx, o)
		if err != nil {
			return err
		}
		return writeJSON(stdout, res, !*asJSON)
	case "learn":
		var o learnbench.Options
		fs.IntVar(&o.Impressions, "impressions", 100000, "synthetic impressions (10 products each) to join and train on")
		fs.Uint64Var(&o.Seed, "seed", 1, "seed of the synthetic log")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		res, err := learnbench.Run(o)
		if err != nil {
			return err
		}
		return writeJSON(stdout, res, !*asJSON)
	case "recommend":
		o := loadtest.BenchRecommendOptions{Logger: logger}
		fs.IntVar(&o.Products, "products", 100000, "catalogue size")
		rates := fs.String("rates", "500,2000", "comma-separated request rates (requests/s)")
		fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per rate")
		fs.IntVar(&o.Conns, "conns", 4, "gRPC connections")
		query := fs.String("query", "vector,text", "query kinds: vector (positive ids), text (starter text encoder, vector index only), hybrid (the same text, lexical BM25 + vector fused)")
		fs.IntVar(&o.RankerMaxInFlight, "max-in-flight", 0, "ranker: Recommend requests worked on at once (0: its default, 4 per CPU)")
		fs.DurationVar(&o.RankerQueueWait, "queue-wait", 0, "ranker: how long a request waits for a slot before ResourceExhausted (0: its default; negative: none)")
		fs.StringVar(&o.WordNetDir, "wordnet", "", "WordNet database folder: the ranker expands hybrid queries' lexical side with its synonyms, as serve does (empty: no expansion)")
		cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the measured runs to this file")
		fs.StringVar(&o.Trace.Exporter, "trace-exporter", tracing.ExporterNone, "the server's span exporter, as serve's (stdout writes to /dev/null here)")
		fs.StringVar(&o.Trace.Endpoint, "trace-endpoint", "", "OTLP collector, as serve's")
		fs.Float64Var(&o.Trace.SampleRatio, "trace-sample", 1, "share of traces recorded, as serve's")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *cpuProfile != "" {
			f, err := createProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			o.CPUProfile = f
		}
		for r := range strings.SplitSeq(*rates, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(r))
			if err != nil {
				return fmt.Errorf("--rates: %q is not a number", r)
			}
			o.Rates = append(o.Rates, n)
		}
		for q := range strings.SplitSeq(*query, ",") {
			o.Queries = append(o.Queries, loadtest.QueryKind(strings.TrimSpace(q)))
		}
		res, err := loadtest.BenchRecommend(ctx, o)
		if err != nil {
			return err
		}
		return writeJSON(stdout, res, !*asJSON)
	default:
		return fmt.Errorf("unknown benchmark %q (extract, index, ingest, recommend, campaign)", args[0])
	}
}

// writeJSON prints v as JSON, indented for a reader or compact for --json.
func writeJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// createProfile creates the file a --cpuprofile flag names.
func createProfile(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return f, nil
}
