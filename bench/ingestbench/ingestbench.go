// Package ingestbench owns `omnirank bench ingest`: it starts a real
// omnirank (server.Start, every role, as `omnirank serve` does), uploads
// synthetic products (picture, voice-over, text) straight into the bucket
// and times each product from its upload to searchable in the ranker, bulk
// and one at a time, checking that none is lost or duplicated.
package ingestbench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/bench/extractbench"
	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/server"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// ErrInvalidBenchOptions marks BenchIngestOptions that make no sense.
var ErrInvalidBenchOptions = option.ErrInvalid

// BenchIngestOptions configures BenchIngest. Zero values take the defaults.
type BenchIngestOptions struct {
	// Products uploaded at once (default 1000).
	Products int
	// Concurrency of the uploads (default 16).
	Concurrency int
	// Singles is how many products are then uploaded one at a time on the
	// idle system, each waited for, for single_product_p99_ms (default 20;
	// negative: none).
	Singles int
	// DataDir of the server; empty uses a temporary folder removed
	// afterwards. Reusing a folder works (product ids are unique per run)
	// but leftover work skews the numbers.
	DataDir string
	// FusionWait, BatchSize, Device, ORTLibrary and IntraOpThreads go to the
	// server's server.Config (zero: DefaultConfig's, device cpu).
	FusionWait     time.Duration
	BatchSize      int
	Device         string
	ORTLibrary     string
	IntraOpThreads int
	// ImageSide is the side in pixels of each product's picture (default
	// 512); AudioSeconds the length of its WAV voice-over (16 kHz mono,
	// default 2).
	ImageSide    int
	AudioSeconds float64
	// ImageFormat of the pictures: "png" (default; lossless, decoded at
	// full size) or "jpeg" (quality 90, what product photos usually are;
	// the extractor decodes JPEG at a reduced scale).
	ImageFormat string
	// CPUProfile, when set, receives a CPU profile (pprof) of the bulk
	// phase, from the first upload to the last product searchable. The
	// profile is process-wide: server, uploads and tracker together.
	CPUProfile io.Writer
	// Timeout is how long after the last upload a product may take to
	// become searchable before it counts as lost (default 5 minutes).
	Timeout time.Duration
	// CompareBare also measures the bare ONNX Runtime throughput of every
	// modality (bench/extractbench) before the server starts, and reports the
	// slowest one and the ratio of products/s to it.
	CompareBare bool
	// BareItems is how many items each bare measurement encodes (default 512).
	BareItems int
	Logger    *slog.Logger
}

// BenchIngestResult is what BenchIngest measured. Times are in
// milliseconds; a product is "searchable" when the ranker has applied its
// complete embedding (see BenchIngest).
type BenchIngestResult struct {
	// Products uploaded at once.
	Products int `json:"products"`
	// ProductsPerS is Products over the time from the first upload to the
	// last of them searchable.
	ProductsPerS float64 `json:"products_per_s"`
	// FreshnessP50Ms and FreshnessP99Ms: per product, from the start of its
	// product.json upload to searchable, over the bulk upload.
	FreshnessP50Ms float64 `json:"freshness_p50_ms"`
	FreshnessP99Ms float64 `json:"freshness_p99_ms"`
	// SingleProductP99Ms: the same for products uploaded one at a time on
	// the idle system (0 when Singles < 0).
	SingleProductP99Ms float64 `json:"single_product_p99_ms"`
	// Lost counts products (bulk and singles) never searchable within
	// Timeout; Duplicated counts products fused complete more than once plus
	// any vectors beyond one per product.
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	// Singles is how many single products were timed.
	Singles int `json:"singles"`
	// UploadS is how long the bulk upload took; ElapsedS the bulk run.
	UploadS  float64 `json:"upload_s"`
	ElapsedS float64 `json:"elapsed_s"`
	// ImageFormat of the uploaded pictures (png or jpeg).
	ImageFormat string `json:"image_format"`
	// Device the models ran on as asked (cpu, cuda or auto) and the CPUs
	// the process could use (GOMAXPROCS): the numbers mean little without.
	Device string `json:"device"`
	CPUs   int    `json:"cpus"`
	// SlowestBare*: the modality with the lowest bare-model throughput
	// (bench/extractbench, same batch size) and products/s over it; set with
	// CompareBare.
	SlowestBareModality  string  `json:"slowest_bare_modality,omitempty"`
	SlowestBareItemsPerS float64 `json:"slowest_bare_items_per_s,omitempty"`
	RatioToSlowestBare   float64 `json:"ratio_to_slowest_bare,omitempty"`
	// BareItemsPerS is each modality's bare-model throughput; set with
	// CompareBare.
	BareItemsPerS map[string]float64 `json:"bare_items_per_s,omitempty"`
	// CombinedBareProductsPerS is 1/Σ_m(1/bare_m): the products/s of the
	// bare models alone when every product needs each of them once and
	// they share the same CPUs, the most any ingest could reach on this
	// machine; RatioToCombinedBare is products/s over it. Set with
	// CompareBare.
	CombinedBareProductsPerS float64 `json:"combined_bare_products_per_s,omitempty"`
	RatioToCombinedBare      float64 `json:"ratio_to_combined_bare,omitempty"`
}

func (o *BenchIngestOptions) defaults() error {
	d := server.DefaultConfig()
	if o.Products == 0 {
		o.Products = 1000
	}
	if o.Concurrency == 0 {
		o.Concurrency = 16
	}
	if o.Singles == 0 {
		o.Singles = 20
	}
	if o.Singles < 0 {
		o.Singles = 0
	}
	if o.FusionWait == 0 {
		o.FusionWait = d.FusionWait
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.Device == "" {
		o.Device = "cpu"
	}
	if o.ImageSide == 0 {
		o.ImageSide = 512
	}
	if o.AudioSeconds == 0 {
		o.AudioSeconds = 2
	}
	if o.ImageFormat == "" {
		o.ImageFormat = "png"
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.BareItems == 0 {
		o.BareItems = 512
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.Products < 1, o.Concurrency < 1, o.BatchSize < 1, o.BareItems < 1:
		return fmt.Errorf("%w: products %d, concurrency %d, batch %d, bare items %d must be positive",
			ErrInvalidBenchOptions, o.Products, o.Concurrency, o.BatchSize, o.BareItems)
	case o.FusionWait < 0, o.Timeout < 0, o.IntraOpThreads < 0:
		return fmt.Errorf("%w: fusion wait %s, timeout %s, intra-op threads %d must not be negative",
			ErrInvalidBenchOptions, o.FusionWait, o.Timeout, o.IntraOpThreads)
	case o.ImageSide < 16 || o.ImageSide > 4096:
		return fmt.Errorf("%w: image side %d out of 16..4096", ErrInvalidBenchOptions, o.ImageSide)
	case o.AudioSeconds < 0.1 || o.AudioSeconds > 60:
		return fmt.Errorf("%w: audio seconds %g out of 0.1..60", ErrInvalidBenchOptions, o.AudioSeconds)
	case o.ImageFormat != "png" && o.ImageFormat != "jpeg":
		return fmt.Errorf("%w: image format %q is not png or jpeg", ErrInvalidBenchOptions, o.ImageFormat)
	}
	return nil
}

// BenchIngest measures catalogue ingestion end to end. It starts a server
// in this process (embedded NATS and S3 gateway, every role, ONNX Runtime
// on the starter models), generates Products products with a PNG picture,
// a WAV voice-over and a text each, and uploads them all at once straight
// into the bucket with the S3 client (Concurrency at a time; media first,
// product.json last), exactly as a merchant's S3 client would: nothing but
// the bucket's event notifications drives the pipeline.
//
// A product counts as searchable when the ranker has applied its complete
// embedding: the test follows the space's emb.<space>.> subjects with a
// plain NATS subscription, takes the first embedding of the product with
// every block it has input for present (fusion may publish a partial one
// first, after FusionWait), and then waits until the ranker's count of
// embeddings handled for the space (ranker.Stats: applied + deleted +
// ignored + rejected, sampled every 2 ms) reaches that message's position
// in the subject order, which is the order the ranker's consumer applies
// them in. Freshness runs from the start of the product.json PUT.
//
// The process must not run another embedded S3 gateway meanwhile (see
// storage/s3gw).
func BenchIngest(ctx context.Context, opts BenchIngestOptions) (BenchIngestResult, error) {
	if err := opts.defaults(); err != nil {
		return BenchIngestResult{}, err
	}
	log := opts.Logger
	res := BenchIngestResult{Products: opts.Products, ImageFormat: opts.ImageFormat, Device: opts.Device, CPUs: runtime.GOMAXPROCS(0)}
	if opts.CompareBare {
		if err := benchBare(ctx, opts, &res); err != nil {
			return res, err
		}
	}

	dir := opts.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "omnirank-bench-ingest-*")
		if err != nil {
			return res, fmt.Errorf("bench ingest: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.GRPCAddr, cfg.HTTPAddr = dir, "127.0.0.1:0", ""
	cfg.ReconcileEvery = 0
	cfg.FusionWait, cfg.BatchSize, cfg.Device = opts.FusionWait, opts.BatchSize, opts.Device
	cfg.ORTLibrary, cfg.IntraOpThreads = opts.ORTLibrary, opts.IntraOpThreads
	cfg.Logger = log
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("bench ingest: start server: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := srv.Close(cctx); err != nil {
			log.Warn("bench ingest: close server", "err", err)
		}
	}()
	if err := srv.Ranker().WaitReady(ctx, ""); err != nil {
		return res, fmt.Errorf("bench ingest: %w", err)
	}
	st, err := spaces.NewStore(ctx, srv.JetStream())
	if err != nil {
		return res, fmt.Errorf("bench ingest: %w", err)
	}
	space, _, err := st.Active(ctx)
	if err != nil {
		return res, fmt.Errorf("bench ingest: active space: %w", err)
	}

	tr, err := newIngestTracker(ctx, srv, space)
	if err != nil {
		return res, err
	}
	defer tr.stop()

	log.Info("bench ingest: generating products", "products", opts.Products, "image_side", opts.ImageSide, "audio_s", opts.AudioSeconds)
	run := fmt.Sprintf("b%x", time.Now().UnixNano())
	bulk := make([]benchProduct, opts.Products)
	for i := range bulk {
		if bulk[i], err = makeBenchProduct(fmt.Sprintf("%s-%05d", run, i), i, opts); err != nil {
			return res, err
		}
		tr.expect(bulk[i].id, bulk[i].modalities)
	}

	log.Info("bench ingest: uploading", "products", opts.Products, "concurrency", opts.Concurrency)
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return res, fmt.Errorf("bench ingest: cpu profile: %w", err)
		}
	}
	begin := time.Now()
	if err := uploadAll(ctx, srv.Store(), bulk, opts.Concurrency, tr); err != nil {
		if opts.CPUProfile != nil {
			pprof.StopCPUProfile()
		}
		return res, err
	}
	res.UploadS = time.Since(begin).Seconds()
	ids := make([]string, len(bulk))
	for i, p := range bulk {
		ids[i] = p.id
	}
	err = tr.wait(ctx, ids, opts.Timeout, log)
	if opts.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, err
	}
	fresh, last, lost := tr.freshness(ids)
	res.Lost += lost
	if n := len(ids) - lost; n > 0 {
		elapsed := last.Sub(begin)
		res.ElapsedS = elapsed.Seconds()
		res.ProductsPerS = float64(n) / elapsed.Seconds()
		res.FreshnessP50Ms = ms(percentile(fresh, 50))
		res.FreshnessP99Ms = ms(percentile(fresh, 99))
	}
	log.Info("bench ingest: bulk done", "searchable", len(ids)-lost, "products_per_s", res.ProductsPerS,
		"freshness_p50_ms", res.FreshnessP50Ms, "freshness_p99_ms", res.FreshnessP99Ms)

	var singles []time.Duration
	for i := range opts.Singles {
		p, err := makeBenchProduct(fmt.Sprintf("%s-single-%03d", run, i), opts.Products+i, opts)
		if err != nil {
			return res, err
		}
		tr.expect(p.id, p.modalities)
		if err := p.upload(ctx, srv.Store(), tr); err != nil {
			return res, err
		}
		if err := tr.wait(ctx, []string{p.id}, min(opts.Timeout, time.Minute), log); err != nil {
			return res, err
		}
		d, _, l := tr.freshness([]string{p.id})
		res.Lost += l
		singles = append(singles, d...)
		ids = append(ids, p.id)
	}
	res.Singles = len(singles)
	res.SingleProductP99Ms = ms(percentile(singles, 99))

	// Let straggling duplicates, if any, arrive before counting them.
	if err := topology.Sleep(ctx, 2*opts.FusionWait+time.Second); err != nil {
		return res, err
	}
	res.Duplicated = tr.duplicated(ids)
	if extra := tr.vectors() - tr.baseVectors - len(ids); extra > 0 {
		res.Duplicated += extra
	}
	if res.SlowestBareItemsPerS > 0 {
		res.RatioToSlowestBare = res.ProductsPerS / res.SlowestBareItemsPerS
	}
	if res.CombinedBareProductsPerS > 0 {
		res.RatioToCombinedBare = res.ProductsPerS / res.CombinedBareProductsPerS
	}
	log.Info("bench ingest: done", "lost", res.Lost, "duplicated", res.Duplicated, "single_product_p99_ms", res.SingleProductP99Ms)
	return res, nil
}

func benchBare(ctx context.Context, opts BenchIngestOptions, res *BenchIngestResult) error {
	opts.Logger.Info("bench ingest: measuring bare model throughput", "items", opts.BareItems, "batch", opts.BatchSize)
	rs, err := extractbench.BenchExtract(ctx, extractbench.BenchOptions{BatchSize: opts.BatchSize, Items: opts.BareItems,
		Device: opts.Device, IntraOpThreads: opts.IntraOpThreads, LibraryPath: opts.ORTLibrary, Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("bench ingest: bare throughput: %w", err)
	}
	res.BareItemsPerS = map[string]float64{}
	secondsPerProduct := 0.0
	for _, r := range rs {
		if r.BareItemsPerS <= 0 {
			return fmt.Errorf("bench ingest: bare %s throughput is %g items/s", r.Modality, r.BareItemsPerS)
		}
		res.BareItemsPerS[r.Modality] = r.BareItemsPerS
		secondsPerProduct += 1 / r.BareItemsPerS
		if res.SlowestBareModality == "" || r.BareItemsPerS < res.SlowestBareItemsPerS {
			res.SlowestBareModality, res.SlowestBareItemsPerS = r.Modality, r.BareItemsPerS
		}
	}
	if secondsPerProduct > 0 {
		res.CombinedBareProductsPerS = 1 / secondsPerProduct
	}
	return nil
}

// benchProduct is one generated product with its objects.
type benchProduct struct {
	id          string
	modalities  []string
	image       []byte
	imageFormat string
	audio       []byte
	record      []byte
}

var benchWords = strings.Fields(`red blue green black white walnut oak linen cotton wool leather
steel ceramic glass running hiking travel kitchen garden desk lamp chair table mug teapot kettle
jacket boots sneaker scarf backpack wallet watch speaker headphones guitar drum violin chess
puzzle blocks candle vase rug pillow blanket towel knife pan bowl plate bottle`)

func makeBenchProduct(id string, seed int, opts BenchIngestOptions) (benchProduct, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x0b1d))
	words := make([]string, 4+r.IntN(4))
	for i := range words {
		words[i] = benchWords[r.IntN(len(benchWords))]
	}
	title := strings.ToUpper(words[0][:1]) + words[0][1:] + " " + strings.Join(words[1:3], " ")
	img, err := benchImage(seed, opts.ImageSide, opts.ImageFormat)
	if err != nil {
		return benchProduct{}, err
	}
	p := storage.Product{ID: id, Title: title, Description: "A " + strings.Join(words, " ") + ".",
		Category: []string{benchWords[seed%7], benchWords[7+seed%11]}, Price: float64(5 + seed%200), Currency: "EUR",
		Media: []storage.Media{{Key: benchImageKey(opts.ImageFormat), Kind: storage.MediaImage, ContentType: "image/" + opts.ImageFormat},
			{Key: "voice.wav", Kind: storage.MediaAudio, ContentType: "audio/wav"}}}
	rec, err := json.Marshal(p)
	if err != nil {
		return benchProduct{}, fmt.Errorf("bench ingest: encode product %s: %w", id, err)
	}
	return benchProduct{id: id, modalities: []string{"audio", "image", "text"}, image: img, imageFormat: opts.ImageFormat,
		audio: benchWAV(seed, opts.AudioSeconds), record: rec}, nil
}

// upload writes the media, then product.json, whose PUT starts the
// product's freshness clock.
func (p benchProduct) upload(ctx context.Context, store storage.ObjectStore, tr *ingestTracker) error {
	if err := store.PutObject(ctx, storage.MediaKey(p.id, benchImageKey(p.imageFormat)), p.image, "image/"+p.imageFormat); err != nil {
		return fmt.Errorf("bench ingest: upload %s: %w", p.id, err)
	}
	if err := store.PutObject(ctx, storage.MediaKey(p.id, "voice.wav"), p.audio, "audio/wav"); err != nil {
		return fmt.Errorf("bench ingest: upload %s: %w", p.id, err)
	}
	tr.uploading(p.id, time.Now())
	if err := store.PutObject(ctx, storage.ProductKey(p.id), p.record, "application/json"); err != nil {
		return fmt.Errorf("bench ingest: upload %s: %w", p.id, err)
	}
	return nil
}

func uploadAll(ctx context.Context, store storage.ObjectStore, ps []benchProduct, concurrency int, tr *ingestTracker) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, p := range ps {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return p.upload(gctx, store, tr) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// ingestTracker follows a space's embeddings and the ranker's progress to
// tell when each product became searchable.
type ingestTracker struct {
	srv         *server.Server
	space       string
	sub         *nats.Subscription
	baseVectors int
	baseHandled int64
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	mu       sync.Mutex
	products map[string]*trackedProduct
	seen     int64 // embedding messages of the space seen
	// completes lists first complete embeddings in arrival order; cursor
	// is the first one the ranker has not been seen to apply yet.
	completes []*trackedProduct
	cursor    int
}

type trackedProduct struct {
	modalities []string
	uploaded   time.Time
	complete   time.Time
	position   int64 // of its first complete embedding among the space's messages
	completes  int
	searchable time.Time
}

func newIngestTracker(ctx context.Context, srv *server.Server, space string) (*ingestTracker, error) {
	tr := &ingestTracker{srv: srv, space: space, products: map[string]*trackedProduct{}}
	tr.baseVectors, tr.baseHandled = tr.rankerProgress()
	nc := srv.JetStream().Conn()
	sub, err := nc.Subscribe(topology.EmbFilter(space), tr.onEmbedding)
	if err != nil {
		return nil, fmt.Errorf("bench ingest: subscribe to embeddings: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("bench ingest: %w", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("bench ingest: subscribe to embeddings: %w", err)
	}
	tr.sub = sub
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	tr.cancel = cancel
	tr.wg.Go(func() { tr.poll(pctx) })
	return tr, nil
}

func (tr *ingestTracker) stop() {
	_ = tr.sub.Unsubscribe()
	tr.cancel()
	tr.wg.Wait()
}

func (tr *ingestTracker) expect(id string, modalities []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.products[id] = &trackedProduct{modalities: modalities}
}

func (tr *ingestTracker) uploading(id string, at time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if p := tr.products[id]; p != nil {
		p.uploaded = at
	}
}

// onEmbedding sees every embedding message of the space, in subject order.
func (tr *ingestTracker) onEmbedding(m *nats.Msg) {
	now := time.Now()
	var e struct {
		Deleted bool             `json:"deleted"`
		Blocks  []topology.Block `json:"blocks"`
	}
	_, id, ok := topology.ProductFromEmbSubject(m.Subject)
	decoded := ok && json.Unmarshal(m.Data, &e) == nil
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.seen++
	p := tr.products[id]
	if !decoded || p == nil || e.Deleted {
		return
	}
	var present []string
	for _, b := range e.Blocks {
		if b.Present {
			present = append(present, b.Modality)
		}
	}
	slices.Sort(present)
	if !slices.Equal(present, p.modalities) {
		return
	}
	p.completes++
	if p.completes == 1 {
		p.complete, p.position = now, tr.seen
		tr.completes = append(tr.completes, p)
	}
}

// rankerProgress is the active space's vector count and how many of its
// embedding messages the ranker has handled.
func (tr *ingestTracker) rankerProgress() (vectors int, handled int64) {
	for _, s := range tr.srv.Ranker().Stats().Spaces {
		if s.Name == tr.space {
			return s.Vectors, s.Applied + s.Deleted + s.Ignored + s.Rejected
		}
	}
	return 0, 0
}

func (tr *ingestTracker) vectors() int {
	v, _ := tr.rankerProgress()
	return v
}

// poll marks products searchable as the ranker's progress passes their
// complete embedding.
func (tr *ingestTracker) poll(ctx context.Context) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, handled := tr.rankerProgress()
		now := time.Now()
		tr.mu.Lock()
		for tr.cursor < len(tr.completes) && tr.completes[tr.cursor].position <= handled-tr.baseHandled {
			tr.completes[tr.cursor].searchable = now
			tr.cursor++
		}
		tr.mu.Unlock()
	}
}

// wait returns once every product of ids is searchable, or timeout after
// the call passed.
func (tr *ingestTracker) wait(ctx context.Context, ids []string, timeout time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(timeout)
	lastLog := time.Now()
	for {
		done := 0
		tr.mu.Lock()
		for _, id := range ids {
			if !tr.products[id].searchable.IsZero() {
				done++
			}
		}
		tr.mu.Unlock()
		if done == len(ids) || time.Now().After(deadline) {
			return nil
		}
		if len(ids) > 1 && time.Since(lastLog) > 5*time.Second {
			log.Info("bench ingest: progress", "searchable", done, "of", len(ids))
			lastLog = time.Now()
		}
		if err := topology.Sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("bench ingest: %w", err)
		}
	}
}

// freshness returns the upload-to-searchable times of the searchable
// products of ids, when the last became searchable, and how many are not.
func (tr *ingestTracker) freshness(ids []string) (ds []time.Duration, last time.Time, lost int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, id := range ids {
		p := tr.products[id]
		if p.searchable.IsZero() {
			lost++
			continue
		}
		ds = append(ds, p.searchable.Sub(p.uploaded))
		if p.searchable.After(last) {
			last = p.searchable
		}
	}
	return ds, last, lost
}

// duplicated counts products of ids fused complete more than once.
func (tr *ingestTracker) duplicated(ids []string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, id := range ids {
		if tr.products[id].completes > 1 {
			n++
		}
	}
	return n
}

// percentile is the nearest-rank p-th percentile of ds (0 for none).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// benchImageKey is the file name of a product's picture in a format.
func benchImageKey(format string) string {
	if format == "jpeg" {
		return "image.jpg"
	}
	return "image.png"
}

// benchImage draws a product-like picture that differs per seed: a
// vertical gradient backdrop, a disc in a contrasting colour with a soft
// shadow, and diagonal stripes, as a PNG or JPEG (quality 90) of
// side×side pixels.
func benchImage(seed, side int, format string) ([]byte, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x1a6e))
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	top := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	bottom := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	fg := color.RGBA{255 - top.R, 255 - top.G, 255 - top.B, 255}
	s := float64(side)
	cx, cy, rad := s*(0.25+0.5*r.Float64()), s*(0.25+0.5*r.Float64()), s*(0.1+0.2*r.Float64())
	stripe := max(2, side/(8+r.IntN(24)))
	slope := r.IntN(3)
	lerp := func(a, b uint8, t float64) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t) }
	for y := range side {
		t := float64(y) / s
		bg := color.RGBA{lerp(top.R, bottom.R, t), lerp(top.G, bottom.G, t), lerp(top.B, bottom.B, t), 255}
		for x := range side {
			c := bg
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			switch {
			case d < rad:
				c = fg
			case d < rad*1.15:
				c = color.RGBA{bg.R / 3, bg.G / 3, bg.B / 3, 255}
			case (x+y*slope)/stripe%2 == 0:
				c = color.RGBA{bg.R / 2, bg.G / 2, bg.B / 2, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		return nil, fmt.Errorf("bench ingest: encode picture: %w", err)
	}
	return buf.Bytes(), nil
}

// benchWAV synthesises a 16 kHz mono 16-bit voice-over stand-in: a tone
// whose pitch depends on the seed, with vibrato, a harmonic and a
// syllable-like amplitude envelope.
func benchWAV(seed int, seconds float64) []byte {
	const rate = 16000
	n := int(seconds * rate)
	freq := 140 + float64(seed%37)*23
	syll := 2 + float64(seed%5)
	pcm := make([]byte, 2*n)
	for i := range n {
		t := float64(i) / rate
		env := 0.55 + 0.45*math.Sin(2*math.Pi*syll*t)
		v := env * (0.5*math.Sin(2*math.Pi*freq*t+0.6*math.Sin(2*math.Pi*4*t)) + 0.2*math.Sin(2*math.Pi*3*freq*t))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(v*20000)))
	}
	var b bytes.Buffer
	b.Grow(44 + len(pcm))
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(pcm)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(pcm)))
	b.Write(pcm)
	return b.Bytes()
}
