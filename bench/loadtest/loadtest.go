package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/internal/cputime"
	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/internal/tracing"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/server"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// ErrInvalidOptions marks BenchRecommendOptions out of range.
var ErrInvalidOptions = option.ErrInvalid

// QueryKind is the shape of the Recommend requests a run sends.
type QueryKind string

const (
	// QueryVector asks for products like one random catalogue product
	// (positive_ids): no encoder runs.
	QueryVector QueryKind = "vector"
	// QueryText sends a short text query that the ranker encodes with the
	// real starter text model in ONNX Runtime, answered from the vector
	// index alone (lexical_weight 0).
	QueryText QueryKind = "text"
	// QueryHybrid sends the same text queries with the ranker's default
	// lexical weight: lexical (BM25) and vector retrieval, fused.
	QueryHybrid QueryKind = "hybrid"
)

// BenchRecommendOptions configures BenchRecommend. Zero fields take the
// defaults given.
type BenchRecommendOptions struct {
	// Products is the catalogue size (default 100,000).
	Products int
	// Rates are the arrival rates to run, in requests per second, one run
	// each (default 500 and 2000).
	Rates []int
	// Duration is how long each rate runs (default 10 s).
	Duration time.Duration
	// Warmup runs the first rate for this long before measuring, results
	// discarded (default 2 s; negative: none).
	Warmup time.Duration
	// Queries are the request shapes to run; every rate runs for each
	// (default QueryVector and QueryText).
	Queries []QueryKind
	// Conns is the number of gRPC connections requests are spread over,
	// round robin (default 4).
	Conns int
	// K is the number of results per request (default 10), MMRLambda the
	// diversity trade-off (default 0.5), CategoryShare the fraction of the
	// catalogue the filter's category prefix matches: one of 1/CategoryShare
	// top-level categories (default 0.2).
	K             int
	MMRLambda     float32
	CategoryShare float64
	// Timeout bounds each request (default 5 s); a request still running
	// then counts as an error.
	Timeout time.Duration
	// MaxInFlight bounds the requests outstanding at once (default 20,000);
	// a request due while the bound is reached is not sent and counts as
	// an error, so an overloaded target cannot exhaust the generator.
	MaxInFlight int
	// Seed makes the catalogue and the request stream reproducible
	// (default 1).
	Seed uint64
	// Dir is the data folder of the server under test (default: a
	// temporary folder, removed at the end).
	Dir string
	// ORTLibrary is the ONNX Runtime shared library for text queries
	// (default: the registry's own lookup, ONNXRUNTIME_LIB or the cache).
	ORTLibrary string
	// RankerMaxInFlight and RankerQueueWait set the ranker's load shedding
	// (ranker.WithMaxInFlight, ranker.WithQueueWait); 0 keeps the ranker's
	// defaults, a negative RankerQueueWait refuses at once.
	RankerMaxInFlight int
	RankerQueueWait   time.Duration
	// WordNetDir, when set, turns on the ranker's WordNet query expansion
	// for the lexical side of hybrid queries, as `omnirank serve` does by
	// default (starter-text@2 is not learnt: it would compete for the CPU).
	WordNetDir string
	// CPUProfile, when set, receives a CPU profile (pprof) of the
	// measured phase: every run after setup, warm-ups included. The
	// profile is process-wide, so it also shows the generator's share.
	CPUProfile io.Writer
	// Trace is the server's tracing (serve's --trace-* flags); the zero
	// value traces nothing. The stdout exporter writes to io.Discard here
	// (the spans are still encoded), so its cost is measured without
	// mixing spans into the results.
	Trace tracing.Config
	// Logger receives progress lines (default slog.Default()).
	Logger *slog.Logger
}

// BenchRecommendResult is one run: one query kind at one arrival rate.
type BenchRecommendResult struct {
	Query string `json:"query"`
	// RateRPS is the scheduled (offered) arrival rate; AchievedRPS the
	// goodput: served (successful) responses per second over the run
	// (first scheduled send to last response).
	RateRPS     int     `json:"rate_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	// Latency percentiles of served requests, from scheduled send time to
	// response, in milliseconds.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	// Requests scheduled; Served among them answered successfully; Shed
	// refused by the ranker's load shedding (ResourceExhausted) and
	// ShedPct their share of Requests in percent; Errors every other
	// failure (timed out, another code, or not sent because MaxInFlight
	// was reached), with ErrorCodes counting failures by gRPC code (shed
	// included) and FirstError the first error that was not shedding (or
	// the first shed when there was no other).
	Requests   int            `json:"requests"`
	Served     int            `json:"served"`
	Shed       int            `json:"shed"`
	ShedPct    float64        `json:"shed_pct"`
	Errors     int            `json:"errors"`
	ErrorCodes map[string]int `json:"error_codes,omitempty"`
	FirstError string         `json:"first_error,omitempty"`
	// Products in the catalogue; DurationS the run's scheduled length.
	Products  int     `json:"products"`
	DurationS float64 `json:"duration_s"`
	// CPUMsPerRequest is the process's CPU time (user + system, every
	// goroutine: server and generator alike) over the run, per scheduled
	// request. Less sensitive than latency to other load on a shared
	// machine, it shows per-request costs such as tracing's: compare two
	// configurations at one rate (the generator's share is the same).
	// 0 where the platform does not report it.
	CPUMsPerRequest float64 `json:"cpu_ms_per_request"`
}

func (o *BenchRecommendOptions) withDefaults() (BenchRecommendOptions, error) {
	c := *o
	bad := func(format string, a ...any) (BenchRecommendOptions, error) {
		return c, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
	}
	if c.Products == 0 {
		c.Products = 100_000
	}
	if c.Products < 10 || c.Products > 10_000_000 {
		return bad("products %d outside [10, 10000000]", c.Products)
	}
	if len(c.Rates) == 0 {
		c.Rates = []int{500, 2000}
	}
	for _, r := range c.Rates {
		if r < 1 || r > 1_000_000 {
			return bad("rate %d outside [1, 1000000]", r)
		}
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration < 100*time.Millisecond || c.Duration > time.Hour {
		return bad("duration %v outside [100ms, 1h]", c.Duration)
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Warmup > time.Hour {
		return bad("warmup %v over 1h", c.Warmup)
	}
	if len(c.Queries) == 0 {
		c.Queries = []QueryKind{QueryVector, QueryText}
	}
	for _, q := range c.Queries {
		if q != QueryVector && q != QueryText && q != QueryHybrid {
			return bad("query kind %q (want %q, %q or %q)", q, QueryVector, QueryText, QueryHybrid)
		}
	}
	if c.Conns == 0 {
		c.Conns = 4
	}
	if c.Conns < 1 || c.Conns > 256 {
		return bad("conns %d outside [1, 256]", c.Conns)
	}
	if c.K == 0 {
		c.K = 10
	}
	if c.K < 1 || c.K > 1000 {
		return bad("k %d outside [1, 1000]", c.K)
	}
	if c.MMRLambda == 0 {
		c.MMRLambda = 0.5
	}
	if !(c.MMRLambda > 0 && c.MMRLambda <= 1) {
		return bad("mmr lambda %v outside (0, 1]", c.MMRLambda)
	}
	if c.CategoryShare == 0 {
		c.CategoryShare = 0.2
	}
	if !(c.CategoryShare > 0 && c.CategoryShare <= 1) {
		return bad("category share %v outside (0, 1]", c.CategoryShare)
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Timeout <= 0 {
		return bad("timeout %v", c.Timeout)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 20_000
	}
	if c.MaxInFlight < 1 {
		return bad("max in flight %d", c.MaxInFlight)
	}
	if c.RankerMaxInFlight < 0 {
		return bad("ranker max in flight %d", c.RankerMaxInFlight)
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// benchSpace is the starter space's shape: the starter text block (256)
// and image block (152), 408 dimensions.
var benchSpace = spaces.Space{Name: "bench-starter", Blocks: []spaces.Block{
	{Modality: string(extractors.Text), Model: extractors.StarterID(extractors.Text), Dim: starter.TextDim, Weight: 1},
	{Modality: string(extractors.Image), Model: extractors.StarterID(extractors.Image), Dim: starter.ImageDim, Weight: 1},
}}

// BenchRecommend builds the target described by opts, then, for each
// query kind and each rate, sends Recommend requests at that fixed
// arrival rate for opts.Duration and reports latency percentiles and
// errors. Setup (publishing and indexing the catalogue) is not measured.
func BenchRecommend(ctx context.Context, opts BenchRecommendOptions) ([]BenchRecommendResult, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	tg, err := newTarget(ctx, o)
	if tg != nil {
		defer tg.close()
	}
	if err != nil {
		return nil, err
	}
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var out []BenchRecommendResult
	rng := rand.New(rand.NewPCG(o.Seed, 99))
	for _, q := range o.Queries {
		gen := tg.requests(q, rng)
		if o.Warmup > 0 {
			o.Logger.Info("warming up", "query", q, "rate", o.Rates[0], "for", o.Warmup)
			if _, err := run(ctx, tg.clients, o.Rates[0], o.Warmup, gen, o); err != nil {
				return out, err
			}
		}
		for _, rate := range o.Rates {
			res, err := run(ctx, tg.clients, rate, o.Duration, gen, o)
			if err != nil {
				return out, err
			}
			res.Query, res.Products = string(q), o.Products
			o.Logger.Info("run done", "query", q, "rate", rate, "goodput", res.AchievedRPS,
				"p50_ms", res.P50Ms, "p99_ms", res.P99Ms, "p999_ms", res.P999Ms, "shed", res.Shed, "errors", res.Errors)
			out = append(out, res)
		}
	}
	return out, nil
}

// target is the system under test: a real omnirank started by
// server.Start with the ranker role, as `omnirank serve --roles=ranker`
// does (embedded NATS and S3 gateway, topology, starter models, ranker,
// gRPC API), holding the synthetic catalogue.
type target struct {
	o        BenchRecommendOptions
	dir      string
	ownDir   bool
	srv      *server.Server
	conns    []*grpc.ClientConn
	clients  []omnirankv1.RankerServiceClient
	ids      []string
	topCats  []string
	filtered string // the category every request filters on
}

func (t *target) close() {
	for _, c := range t.conns {
		_ = c.Close()
	}
	if t.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := t.srv.Close(ctx); err != nil {
			t.o.Logger.Warn("loadtest: close server", "err", err)
		}
	}
	if t.ownDir {
		_ = os.RemoveAll(t.dir)
	}
}

// newTarget starts omnirank with the ranker role, publishes the catalogue
// into its NATS and waits until the ranker holds all of it. On error it
// returns what it started, for close.
func newTarget(ctx context.Context, o BenchRecommendOptions) (*target, error) {
	t := &target{o: o, dir: o.Dir}
	if t.dir == "" {
		d, err := os.MkdirTemp("", "omnirank-loadtest-")
		if err != nil {
			return nil, fmt.Errorf("loadtest dir: %w", err)
		}
		t.dir, t.ownDir = d, true
	}
	log := o.Logger
	cfg := server.DefaultConfig()
	cfg.Roles = []string{server.RoleRanker}
	cfg.DataDir, cfg.GRPCAddr, cfg.HTTPAddr = t.dir, "127.0.0.1:0", ""
	cfg.Device, cfg.ORTLibrary = "cpu", o.ORTLibrary
	cfg.SnapshotEvery, cfg.ReconcileEvery = 0, 0
	cfg.RankerMaxInFlight = o.RankerMaxInFlight
	cfg.WordNetDir, cfg.QueryExpansion = o.WordNetDir, o.WordNetDir != ""
	if o.RankerQueueWait != 0 {
		cfg.RankerQueueWait = max(o.RankerQueueWait, 0)
	}
	cfg.Logger = log
	cfg.Trace = o.Trace
	if cfg.Trace.Exporter == tracing.ExporterStdout && cfg.Trace.Writer == nil {
		cfg.Trace.Writer = io.Discard
	}
	var err error
	if t.srv, err = server.Start(ctx, cfg); err != nil {
		return t, fmt.Errorf("start server: %w", err)
	}
	js := t.srv.JetStream()
	sp, err := spaces.NewStore(ctx, js)
	if err != nil {
		return t, err
	}
	if err := sp.Put(ctx, benchSpace); err != nil {
		return t, err
	}
	start := time.Now()
	if err := t.load(ctx, js); err != nil {
		return t, err
	}
	log.Info("catalogue published", "products", o.Products, "in", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := waitIndexed(ctx, t.srv.Ranker(), o.Products); err != nil {
		return t, err
	}
	log.Info("ranker ready", "products", o.Products, "in", time.Since(start).Round(time.Millisecond))

	for range o.Conns {
		// Each client gets its own connection: grpc.NewClient never shares.
		c, err := grpc.NewClient(t.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return t, fmt.Errorf("dial ranker: %w", err)
		}
		t.conns = append(t.conns, c)
		t.clients = append(t.clients, omnirankv1.NewRankerServiceClient(c))
	}
	return t, nil
}

// waitIndexed waits until the ranker holds every product of the catalogue
// and its vector in the bench space.
func waitIndexed(ctx context.Context, rk *ranker.Ranker, products int) error {
	if err := rk.WaitReady(ctx, benchSpace.Name); err != nil {
		return err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st := rk.Stats()
		vectors := 0
		for _, sp := range st.Spaces {
			if sp.Name == benchSpace.Name {
				vectors = sp.Vectors
			}
		}
		if st.Products >= products && vectors >= products {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the ranker (%d of %d products, %d vectors): %w", st.Products, products, vectors, ctx.Err())
		case <-tick.C:
		}
	}
}

var (
	subCats   = []string{"a", "b", "c", "d"}
	nouns     = []string{"shoe", "boot", "sandal", "sneaker", "shirt", "jacket", "coat", "dress", "skirt", "hat", "scarf", "glove", "bag", "backpack", "wallet", "watch", "ring", "necklace", "lamp", "chair", "table", "sofa", "pillow", "blanket", "rug", "mug", "cup", "plate", "bowl", "pan", "pot", "kettle", "knife", "spoon", "guitar", "drum", "camera", "headphones", "speaker", "bicycle"}
	materials = []string{"leather", "cotton", "wool", "silk", "linen", "denim", "steel", "wooden", "ceramic", "glass", "plastic", "bamboo"}
	colours   = []string{"red", "blue", "green", "black", "white", "grey", "brown", "pink", "yellow", "orange", "purple", "beige"}
)

// load publishes the synthetic catalogue: a product record in the products
// bucket and a joint embedding per product. A product is a colour, a
// material and a noun ("red leather boot"); its text block is that title
// encoded by the real starter text model (plus a little noise, so equal
// titles differ), its image block a per-noun centre plus a per-colour
// direction plus noise. So products cluster by noun and colour the way a
// catalogue does, and text queries land near the products they name.
// Categories are drawn independently of content, which is the hard case
// for filtered search.
func (t *target) load(ctx context.Context, js jetstream.JetStream) error {
	o := t.o
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	nTop := max(1, int(math.Round(1/o.CategoryShare)))
	for i := range nTop {
		t.topCats = append(t.topCats, fmt.Sprintf("cat%02d", i))
	}
	t.filtered = t.topCats[0]
	imgDim := benchSpace.Blocks[1].Dim
	nounCentre := make([][]float32, len(nouns))
	for i := range nounCentre {
		nounCentre[i] = gauss(rng, imgDim, 1)
	}
	colourDir := make([][]float32, len(colours))
	for i := range colourDir {
		colourDir[i] = gauss(rng, imgDim, 0.7)
	}
	type draw struct{ noun, material, colour int }
	draws := make([]draw, o.Products)
	titleVec := map[string][]float32{}
	var pending []string
	for i := range draws {
		d := draw{rng.IntN(len(nouns)), rng.IntN(len(materials)), rng.IntN(len(colours))}
		draws[i] = d
		title := colours[d.colour] + " " + materials[d.material] + " " + nouns[d.noun]
		if _, ok := titleVec[title]; !ok {
			titleVec[title] = nil
			pending = append(pending, title)
		}
	}
	if err := t.encodeTitles(ctx, pending, titleVec); err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		return fmt.Errorf("products bucket: %w", err)
	}
	now := time.Now().UTC()
	t.ids = make([]string, o.Products)
	type kvItem struct {
		id   string
		data []byte
	}
	items := make(chan kvItem, 1024)
	// 16 goroutines put the product records while this one publishes the
	// embeddings; the first failed put cancels the rest.
	g, gctx := errgroup.WithContext(ctx)
	for range 16 {
		g.Go(func() error {
			for it := range items {
				if _, err := kv.Put(gctx, it.id, it.data); err != nil {
					return fmt.Errorf("put product %s: %w", it.id, err)
				}
			}
			return nil
		})
	}
	pubErr := func() error {
		defer close(items)
		for i, d := range draws {
			id := fmt.Sprintf("p%07d", i)
			t.ids[i] = id
			title := colours[d.colour] + " " + materials[d.material] + " " + nouns[d.noun]
			txt := slices.Clone(titleVec[title])
			jitter(rng, txt, 0.15)
			img := gauss(rng, imgDim, 0.5)
			for j := range img {
				img[j] += nounCentre[d.noun][j] + colourDir[d.colour][j]
			}
			joint, layout, err := benchSpace.Join(map[string][]float32{string(extractors.Text): txt, string(extractors.Image): img})
			if err != nil {
				return err
			}
			emb, err := json.Marshal(topology.Embedding{ProductID: id, Space: benchSpace.Name, Revision: 1, Vector: joint, Blocks: layout, UploadedAt: now})
			if err != nil {
				return err
			}
			rec, err := json.Marshal(topology.ProductRecord{
				Product: storage.Product{ID: id, Title: title, Price: float64(1 + rng.IntN(200)), Currency: "EUR",
					Category: []string{t.topCats[rng.IntN(nTop)], subCats[rng.IntN(len(subCats))]}},
				Revision: 1, Hashes: map[string]string{"text": id}, State: topology.StateIndexed, UploadedAt: now, UpdatedAt: now,
			})
			if err != nil {
				return err
			}
			select {
			case items <- kvItem{id, rec}:
			case <-gctx.Done():
				return gctx.Err()
			}
			if _, err := js.PublishAsync(topology.EmbSubject(benchSpace.Name, id), emb); err != nil {
				return fmt.Errorf("publish embedding %s: %w", id, err)
			}
			if i%4096 == 4095 {
				if err := waitPublished(ctx, js); err != nil {
					return err
				}
			}
		}
		return waitPublished(ctx, js)
	}()
	if err := g.Wait(); err != nil {
		return err
	}
	return pubErr
}

// encodeTitles fills out[title] with the starter text model's vector of
// every title.
func (t *target) encodeTitles(ctx context.Context, titles []string, out map[string][]float32) error {
	enc, err := t.srv.Encoders().Encoder(ctx, extractors.StarterID(extractors.Text))
	if err != nil {
		return fmt.Errorf("text encoder: %w", err)
	}
	defer enc.Close()
	const batch = 64
	for lo := 0; lo < len(titles); lo += batch {
		hi := min(lo+batch, len(titles))
		in := make([][]byte, 0, hi-lo)
		for _, s := range titles[lo:hi] {
			in = append(in, []byte(s))
		}
		vecs, err := enc.Encode(ctx, in)
		if err != nil {
			return fmt.Errorf("encode titles: %w", err)
		}
		for i, v := range vecs {
			out[titles[lo+i]] = v
		}
	}
	return nil
}

// jitter adds isotropic noise of relative norm rel to v.
func jitter(rng *rand.Rand, v []float32, rel float64) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	scale := rel * math.Sqrt(n/float64(len(v)))
	for i := range v {
		v[i] += float32(scale * rng.NormFloat64())
	}
}

func waitPublished(ctx context.Context, js jetstream.JetStream) error {
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish embeddings: %w", ctx.Err())
	}
}

func gauss(rng *rand.Rand, d int, scale float64) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(scale * rng.NormFloat64())
	}
	return v
}

// requests returns the request generator of a query kind.
func (t *target) requests(q QueryKind, rng *rand.Rand) func() *omnirankv1.RecommendRequest {
	filter := func() *omnirankv1.Filter { return &omnirankv1.Filter{CategoryPrefix: []string{t.filtered}} }
	switch q {
	case QueryText, QueryHybrid:
		var lexical *float32
		if q == QueryText {
			lexical = new(float32)
		}
		return func() *omnirankv1.RecommendRequest {
			noun := nouns[rng.IntN(len(nouns))]
			var text string
			switch rng.IntN(4) {
			case 0:
				text = noun
			case 1:
				text = colours[rng.IntN(len(colours))] + " " + noun
			case 2:
				text = materials[rng.IntN(len(materials))] + " " + noun
			default:
				text = colours[rng.IntN(len(colours))] + " " + materials[rng.IntN(len(materials))] + " " + noun
			}
			return &omnirankv1.RecommendRequest{Space: benchSpace.Name, QueryText: text, K: int32(t.o.K), MmrLambda: t.o.MMRLambda, Filter: filter(),
				LexicalWeight: lexical}
		}
	default:
		return func() *omnirankv1.RecommendRequest {
			return &omnirankv1.RecommendRequest{Space: benchSpace.Name, PositiveIds: []string{t.ids[rng.IntN(len(t.ids))]},
				K: int32(t.o.K), MmrLambda: t.o.MMRLambda, Filter: filter()}
		}
	}
}

// outcome of one scheduled request.
const (
	outFailed = iota // failed, timed out or not sent
	outServed
	outShed
)

// run sends rate requests per second for dur, each at its scheduled time
// whatever happened to earlier ones, and measures each from that time.
func run(ctx context.Context, clients []omnirankv1.RankerServiceClient, rate int, dur time.Duration, gen func() *omnirankv1.RecommendRequest, o BenchRecommendOptions) (BenchRecommendResult, error) {
	n := max(1, int(math.Round(float64(rate)*dur.Seconds())))
	reqs := make([]*omnirankv1.RecommendRequest, n)
	for i := range reqs {
		reqs[i] = gen()
	}
	lat := make([]time.Duration, n)
	out := make([]uint8, n)
	label := make([]string, n) // failure label: a gRPC code name or "NotSent"
	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		lastDone atomic.Int64 // unix ns
		errMu    sync.Mutex
		firstErr error
		firstShd error
	)
	fail := func(err error, shed bool) {
		errMu.Lock()
		if shed && firstShd == nil {
			firstShd = err
		}
		if !shed && firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	cpu0 := cputime.Process()
	start := time.Now().Add(5 * time.Millisecond)
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
		if d := time.Until(due); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-ctx.Done():
				timer.Stop()
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		if inFlight.Load() >= int64(o.MaxInFlight) {
			label[i] = "NotSent"
			fail(fmt.Errorf("request %d not sent: %d requests in flight", i, o.MaxInFlight), false)
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer inFlight.Add(-1)
			cctx, cancel := context.WithDeadline(ctx, due.Add(o.Timeout))
			defer cancel()
			_, err := clients[i%len(clients)].Recommend(cctx, reqs[i])
			now := time.Now()
			lat[i] = now.Sub(due)
			for {
				prev := lastDone.Load()
				if now.UnixNano() <= prev || lastDone.CompareAndSwap(prev, now.UnixNano()) {
					break
				}
			}
			if err != nil {
				code := status.Code(err)
				label[i] = code.String()
				shed := code == grpccodes.ResourceExhausted
				if shed {
					out[i] = outShed
				}
				fail(fmt.Errorf("request %d: %w", i, err), shed)
				return
			}
			out[i] = outServed
		}(i, due)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return BenchRecommendResult{}, fmt.Errorf("load run at %d rps: %w", rate, err)
	}
	var good []time.Duration
	res := BenchRecommendResult{RateRPS: rate, Requests: n, DurationS: dur.Seconds()}
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		res.CPUMsPerRequest = math.Round(float64(cpu)/float64(n)/1e3) / 1e3
	}
	for i := range n {
		switch out[i] {
		case outServed:
			good = append(good, lat[i])
			continue
		case outShed:
			res.Shed++
		default:
			res.Errors++
		}
		if res.ErrorCodes == nil {
			res.ErrorCodes = map[string]int{}
		}
		res.ErrorCodes[label[i]]++
	}
	slices.Sort(good)
	res.Served = len(good)
	res.ShedPct = math.Round(float64(res.Shed)/float64(n)*1000) / 10
	switch {
	case firstErr != nil:
		res.FirstError = firstErr.Error()
	case firstShd != nil:
		res.FirstError = firstShd.Error()
	}
	if len(good) > 0 {
		res.P50Ms, res.P99Ms, res.P999Ms = ms(pct(good, 0.50)), ms(pct(good, 0.99)), ms(pct(good, 0.999))
		res.MaxMs = ms(good[len(good)-1])
		if el := time.Unix(0, lastDone.Load()).Sub(start); el > 0 {
			res.AchievedRPS = math.Round(float64(len(good))/el.Seconds()*10) / 10
		}
	}
	return res, nil
}

// pct is the q-quantile of sorted durations (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
