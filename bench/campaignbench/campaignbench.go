// Package campaignbench is `omnirank bench campaign`: it measures a
// re-embedding campaign end to end on a real server (server.Start, every
// role, as `omnirank serve` runs them). It indexes a catalogue, measures
// live freshness (upload to a complete embedding in the active space) on
// the idle system, then runs a campaign into a space whose text block is a
// changed model while single uploads and Recommend calls go on, and
// compares the campaign's products/s with the bare ONNX Runtime bound of
// the model it re-runs.
package campaignbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	bench "github.com/omnirank/omnirank/bench/extractbench"
	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/starter"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/server"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Options configures Run. Zero values take the defaults.
type Options struct {
	// Products in the catalogue the campaign re-embeds (default 300).
	Products int
	// Singles is how many live uploads are timed, on the idle system and
	// again during the campaign (default 10 each).
	Singles int
	// Device, ORTLibrary, IntraOpThreads and BatchSize go to the server
	// and the bare measurement alike (device default cpu).
	Device         string
	ORTLibrary     string
	IntraOpThreads int
	BatchSize      int
	// Window is the server's --campaign-window (0: its default).
	Window int
	// BackfillNice is the server's --backfill-nice; nil: its default.
	BackfillNice *int
	// BareItems is how many texts the bare measurement encodes (default 512).
	BareItems int
	// TextModelDir is a text model folder (e.g. `omnirank models
	// build-standin`'s text stand-in, a realistically costly model)
	// registered as the new space's text model; empty: the starter text
	// model under another version (cheap: the pipeline dominates).
	TextModelDir string
	// Timeout bounds each phase (default 10 minutes).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Result is what Run measured; times in milliseconds.
type Result struct {
	Products             int     `json:"products"`
	CampaignProductsPerS float64 `json:"campaign_products_per_s"`
	// BareBoundProductsPerS is 1/Σ 1/(bare items/s) over the models the
	// campaign re-runs (here the text model alone; image and audio
	// features are reused).
	BareBoundProductsPerS    float64 `json:"bare_bound_products_per_s"`
	Ratio                    float64 `json:"ratio"`
	LiveFreshnessIdleP99Ms   float64 `json:"live_freshness_idle_p99_ms"`
	LiveFreshnessDuringP99Ms float64 `json:"live_freshness_during_p99_ms"`
	// The medians of the same samples: with 10–20 samples the p99 is
	// the slowest one, the median the typical upload.
	LiveFreshnessIdleP50Ms   float64  `json:"live_freshness_idle_p50_ms"`
	LiveFreshnessDuringP50Ms float64  `json:"live_freshness_during_p50_ms"`
	FailedQueries            int64    `json:"failed_queries"`
	Lost                     int      `json:"lost"`
	Duplicated               int      `json:"duplicated"`
	Queries                  int64    `json:"queries"`
	FreshnessSamples         [2]int   `json:"freshness_samples"`
	ReRunModels              []string `json:"re_run_models"`
	CPUs                     int      `json:"cpus"`
}

func (o *Options) defaults() error {
	if o.Products == 0 {
		o.Products = 300
	}
	if o.Singles == 0 {
		o.Singles = 10
	}
	if o.Device == "" {
		o.Device = "cpu"
	}
	if o.BatchSize == 0 {
		o.BatchSize = server.DefaultConfig().BatchSize
	}
	if o.BareItems == 0 {
		o.BareItems = 512
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Products < 1 || o.Singles < 1 || o.BatchSize < 1 || o.BareItems < 1 || o.Timeout < 0 || o.Window < 0 {
		return fmt.Errorf("bench campaign: products %d, singles %d, batch %d, bare items %d must be ≥ 1 (window %d ≥ 0)", o.Products, o.Singles, o.BatchSize, o.BareItems, o.Window)
	}
	return nil
}

const newSpace = "bench-v2"

// Run measures one campaign. The process must not run another embedded S3
// gateway meanwhile.
func Run(ctx context.Context, opts Options) (Result, error) {
	if err := opts.defaults(); err != nil {
		return Result{}, err
	}
	res := Result{Products: opts.Products, CPUs: runtime.GOMAXPROCS(0)}
	modelDir := opts.TextModelDir
	if modelDir == "" {
		tmp, err := os.MkdirTemp("", "omnirank-bench-model-*")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		if _, err := starter.WriteVersion(tmp, "text", "bench2"); err != nil {
			return res, err
		}
		modelDir = tmp
	}
	opts.Logger.Info("bench campaign: bare text model throughput", "items", opts.BareItems, "model", modelDir)
	bare, err := bench.BenchExtract(ctx, bench.BenchOptions{ModelDirs: []string{modelDir},
		BatchSize: opts.BatchSize, Items: opts.BareItems, Device: opts.Device, IntraOpThreads: opts.IntraOpThreads,
		LibraryPath: opts.ORTLibrary, Logger: opts.Logger})
	if err != nil || len(bare) != 1 || bare[0].BareItemsPerS <= 0 || bare[0].Modality != "text" {
		return res, fmt.Errorf("bench campaign: bare throughput of the text model in %s: %v", modelDir, err)
	}
	res.BareBoundProductsPerS = math.Round(bare[0].BareItemsPerS*10) / 10

	dir, err := os.MkdirTemp("", "omnirank-bench-campaign-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.GRPCAddr, cfg.HTTPAddr = dir, "127.0.0.1:0", ""
	cfg.Device, cfg.ORTLibrary, cfg.IntraOpThreads, cfg.BatchSize = opts.Device, opts.ORTLibrary, opts.IntraOpThreads, opts.BatchSize
	cfg.ReconcileEvery, cfg.SnapshotEvery, cfg.Logger = 0, 0, opts.Logger
	cfg.CampaignWindow = opts.Window
	if opts.BackfillNice != nil {
		cfg.BackfillNice = *opts.BackfillNice
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
	}()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	admin, rank := pb.NewAdminServiceClient(conn), pb.NewRankerServiceClient(conn)
	active := server.StarterSpaceName

	w, err := watchEmbeddings(srv.JetStream().Conn())
	if err != nil {
		return res, err
	}
	defer w.stop()
	up := &uploader{store: srv.Store(), w: w}

	// The catalogue, indexed in the active space.
	opts.Logger.Info("bench campaign: indexing the catalogue", "products", opts.Products)
	catalogue := make([]string, opts.Products)
	for i := range catalogue {
		catalogue[i] = fmt.Sprintf("cat-%05d", i)
	}
	if err := up.putAll(ctx, catalogue, 8); err != nil {
		return res, err
	}
	if err := w.waitComplete(ctx, active, catalogue, opts.Timeout); err != nil {
		return res, err
	}

	// Live freshness on the idle system.
	idle, err := up.singles(ctx, "idle", opts.Singles, active, opts.Timeout, nil)
	if err != nil {
		return res, err
	}
	res.LiveFreshnessIdleP99Ms, res.LiveFreshnessIdleP50Ms = quantileMs(idle, 0.99), quantileMs(idle, 0.5)

	// The campaign, with live uploads and queries going on.
	textModel, err := register(ctx, srv.Store(), modelDir)
	if err != nil {
		return res, err
	}
	res.ReRunModels = []string{textModel}
	if _, err := admin.CreateSpace(ctx, &pb.CreateSpaceRequest{Name: newSpace,
		Blocks: []string{"text=" + textModel, "image=" + extractors.StarterID(extractors.Image), "audio=" + extractors.StarterID(extractors.Audio) + ":0.5"}}); err != nil {
		return res, fmt.Errorf("bench campaign: create space: %w", err)
	}
	var queries, failed atomic.Int64
	qctx, stopQueries := context.WithCancel(ctx)
	var qwg sync.WaitGroup
	qwg.Go(func() {
		for i := 0; qctx.Err() == nil; i++ {
			resp, err := rank.Recommend(qctx, &pb.RecommendRequest{QueryText: title(i % opts.Products), K: 10})
			if qctx.Err() != nil {
				return
			}
			queries.Add(1)
			if err != nil || len(resp.GetResults()) == 0 {
				failed.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	start := time.Now()
	if _, err := admin.StartCampaign(ctx, &pb.StartCampaignRequest{Space: newSpace}); err != nil {
		stopQueries()
		qwg.Wait()
		return res, fmt.Errorf("bench campaign: start: %w", err)
	}
	doneCh := make(chan error, 1)
	var elapsed time.Duration
	go func() {
		deadline := time.Now().Add(opts.Timeout)
		for time.Now().Before(deadline) {
			st, err := admin.GetCampaign(ctx, &pb.CampaignRequest{})
			if err == nil && st.GetState() == "done" {
				elapsed = time.Since(start)
				doneCh <- nil
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		doneCh <- errors.New("bench campaign: not done in time")
	}()
	during, err := up.singles(ctx, "live", opts.Singles, active, opts.Timeout, doneCh)
	if err == nil {
		err = <-doneCh
	}
	stopQueries()
	qwg.Wait()
	if err != nil {
		return res, err
	}
	res.LiveFreshnessDuringP99Ms, res.LiveFreshnessDuringP50Ms = quantileMs(during, 0.99), quantileMs(during, 0.5)
	res.FreshnessSamples = [2]int{len(idle), len(during)}
	res.Queries, res.FailedQueries = queries.Load(), failed.Load()
	existing := opts.Products + len(idle)
	res.CampaignProductsPerS = math.Round(float64(existing)/elapsed.Seconds()*10) / 10
	res.Ratio = math.Round(res.CampaignProductsPerS/res.BareBoundProductsPerS*1000) / 1000

	// Every product in the new space, complete, once.
	all := slices.Concat(catalogue, up.uploaded())
	_ = w.waitComplete(ctx, newSpace, all, 30*time.Second)
	res.Lost, res.Duplicated = w.problems(newSpace, all)
	return res, nil
}

// register uploads a model folder into the server's bucket with the
// model registry (AdminService.RegisterModel takes at most 64 MiB; the
// MiniLM-shaped stand-in is larger) and returns its name@version.
func register(ctx context.Context, store storage.ObjectStore, dir string) (string, error) {
	reg, err := extractors.NewRegistry(store)
	if err != nil {
		return "", err
	}
	defer reg.Close()
	m, err := reg.Register(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("bench campaign: register %s: %w", dir, err)
	}
	return m.ID(), nil
}

func title(i int) string {
	return fmt.Sprintf("Item %d, a %s thing for the %s", i, []string{"red", "green", "blue", "plain"}[i%4], []string{"kitchen", "garden", "office"}[i%3])
}

// uploader writes products (text and a picture) into the bucket.
type uploader struct {
	store storage.ObjectStore
	w     *embWatcher
	mu    sync.Mutex
	ids   []string
}

func (u *uploader) put(ctx context.Context, id string, seed int) error {
	img, err := picture(seed)
	if err != nil {
		return err
	}
	p := storage.Product{ID: id, Title: title(seed), Category: []string{"bench"}, Price: float64(seed%90 + 10), Currency: "EUR",
		Media: []storage.Media{{Key: "picture.png", Kind: "image", ContentType: "image/png"}}}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := u.store.PutObject(ctx, storage.MediaKey(id, "picture.png"), img, "image/png"); err != nil {
		return fmt.Errorf("upload %s: %w", id, err)
	}
	return u.store.PutObject(ctx, storage.ProductKey(id), data, "application/json")
}

func (u *uploader) putAll(ctx context.Context, ids []string, concurrency int) error {
	errs := make(chan error, len(ids))
	sem := make(chan struct{}, concurrency)
	for i, id := range ids {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- u.put(ctx, id, i)
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// singles uploads up to n products one at a time, each timed until its
// embedding in space is complete; it stops early once stop delivers
// (which it then hands back).
func (u *uploader) singles(ctx context.Context, prefix string, n int, space string, timeout time.Duration, stop chan error) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		if stop != nil {
			select {
			case err := <-stop:
				stop <- err
				return out, nil
			default:
			}
		}
		id := fmt.Sprintf("%s-%03d", prefix, i)
		began := time.Now()
		if err := u.put(ctx, id, 1000+i); err != nil {
			return out, err
		}
		u.mu.Lock()
		u.ids = append(u.ids, id)
		u.mu.Unlock()
		if err := u.w.waitComplete(ctx, space, []string{id}, timeout); err != nil {
			return out, err
		}
		out = append(out, u.w.completedAt(space, id).Sub(began))
		time.Sleep(300 * time.Millisecond)
	}
	return out, nil
}

func (u *uploader) uploaded() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.ids)
}

// picture is a small PNG whose colours and split follow the seed.
func picture(seed int) ([]byte, error) {
	const side = 128
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	a := color.NRGBA{uint8(seed * 53), uint8(seed * 29), uint8(seed * 71), 255}
	b := color.NRGBA{255 - a.G, a.B, 255 - a.R, 255}
	split := 16 + seed%96
	for y := range side {
		for x := range side {
			if x+y/2 < split {
				img.SetNRGBA(x, y, a)
			} else {
				img.SetNRGBA(x, y, b)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// embWatcher follows every embedding published (a plain subscription) and
// remembers, per space and product, when its first complete embedding (text
// and image present) arrived and how many complete ones did.
type embWatcher struct {
	sub *nats.Subscription
	mu  sync.Mutex
	at  map[string]time.Time
	n   map[string]int
}

func watchEmbeddings(nc *nats.Conn) (*embWatcher, error) {
	w := &embWatcher{at: map[string]time.Time{}, n: map[string]int{}}
	sub, err := nc.Subscribe("emb.*.*", func(m *nats.Msg) {
		var e topology.Embedding
		if json.Unmarshal(m.Data, &e) != nil || e.Deleted {
			return
		}
		present := 0
		for _, b := range e.Blocks {
			if b.Present && (b.Modality == "text" || b.Modality == "image") {
				present++
			}
		}
		if present < 2 {
			return
		}
		key := e.Space + "/" + e.ProductID
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.n[key] == 0 {
			w.at[key] = time.Now()
		}
		w.n[key]++
	})
	if err != nil {
		return nil, fmt.Errorf("bench campaign: subscribe to embeddings: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	w.sub = sub
	return w, nil
}

func (w *embWatcher) stop() { _ = w.sub.Unsubscribe() }

func (w *embWatcher) completedAt(space, id string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at[space+"/"+id]
}

func (w *embWatcher) waitComplete(ctx context.Context, space string, ids []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		lost, _ := w.problems(space, ids)
		if lost == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench campaign: %d of %d products not complete in %s after %s", lost, len(ids), space, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// problems counts products with no complete embedding in space (lost) and
// with more than one (duplicated: fused complete again, wasted work).
func (w *embWatcher) problems(space string, ids []string) (lost, duplicated int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		switch n := w.n[space+"/"+id]; {
		case n == 0:
			lost++
		case n > 1:
			duplicated++
		}
	}
	return lost, duplicated
}

// quantileMs is the q-quantile of ds (nearest rank) in milliseconds.
func quantileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return math.Round(float64(s[max(i, 0)])/float64(time.Microsecond)) / 1000
}
