package ranker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/natsembed/natstest"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/s3gw"
	"github.com/omnirank/omnirank/topology"
)

// TestMain runs the tests, stops the shared S3 gateway (if a test started
// one) and then checks that no goroutine leaked.
func TestMain(m *testing.M) {
	code := m.Run()
	if gw != nil {
		if err := gw.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close embedded S3 gateway:", err)
			code = 1
		}
		os.RemoveAll(gwDir)
	}
	if code == 0 {
		// The gateway's HTTP server (fasthttp) keeps a process-wide date
		// ticker and lets its worker-pool cleaner finish its sleep after
		// shutdown; both belong to the library, not to the ranker.
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// The one embedded S3 gateway of this test binary (one may run per
// process and it changes the working directory), started on first use.
var (
	gwOnce sync.Once
	gw     *s3gw.Gateway
	gwErr  error
	gwDir  string
	nextBk atomic.Int64
)

const (
	gwAccess = "OMNIRANKRANKERTEST01"
	gwSecret = "omnirank-ranker-test-secret-0123456789"
)

// newBucket returns an object store over a fresh bucket of the shared
// gateway. Its idle connections are closed when the test ends.
func newBucket(t testing.TB) *storage.S3Store {
	t.Helper()
	gwOnce.Do(func() {
		if gwDir, gwErr = os.MkdirTemp("", "omnirank-ranker-test-"); gwErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		gw, gwErr = s3gw.Start(ctx, s3gw.Config{Dir: filepath.Join(gwDir, "buckets"), AccessKey: gwAccess, SecretKey: gwSecret,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	})
	if gwErr != nil {
		t.Fatalf("start embedded S3 gateway: %v", gwErr)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	st, err := storage.NewS3Store(t.Context(), storage.S3Config{Endpoint: gw.Endpoint(), AccessKey: gwAccess, SecretKey: gwSecret,
		Bucket: fmt.Sprintf("ranker-test-%d", nextBk.Add(1))}, storage.WithTransport(tr), storage.WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testLogger discards logs unless -v.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// baseTime is the fixed "now" of the tests' clock.
var baseTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return baseTime }

// env is a real embedded NATS server with the omnirank topology.
type env struct {
	t        testing.TB
	ctx      context.Context
	js       jetstream.JetStream
	store    *spaces.Store
	products jetstream.KeyValue
}

func newEnv(t testing.TB) *env {
	t.Helper()
	js := natstest.JetStream(t)
	ctx := t.Context()
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), []string{"text", "image", "audio"}); err != nil {
		t.Fatal(err)
	}
	store, err := spaces.NewStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, js: js, store: store, products: kv}
}

// testSpace has a text block (16 dims, weight 1) and an image block (8
// dims, weight 0.5).
var testSpace = spaces.Space{Name: "s1", Blocks: []spaces.Block{
	{Modality: "text", Model: "test-text@1", Dim: 16, Weight: 1},
	{Modality: "image", Model: "test-image@1", Dim: 8, Weight: 0.5},
}}

func (e *env) putSpace(s spaces.Space, active bool) {
	e.t.Helper()
	if err := e.store.Put(e.ctx, s); err != nil {
		e.t.Fatal(err)
	}
	if active {
		_, rev, err := e.store.Active(e.ctx)
		if errors.Is(err, spaces.ErrNotFound) {
			rev = 0
		} else if err != nil {
			e.t.Fatal(err)
		}
		if err := e.store.SetActive(e.ctx, s.Name, rev); err != nil {
			e.t.Fatal(err)
		}
	}
}

// product is a test catalogue entry with its per-modality vectors.
type product struct {
	id string
	// title defaults to "title <id>"; description and brand are optional.
	title, description, brand string
	category                  []string
	price                     float64
	attrs                     map[string]string
	uploaded                  time.Time
	parts                     map[string][]float32
	cluster                   int
	joint                     []float32
}

func (e *env) putProduct(p *product) {
	e.t.Helper()
	title := p.title
	if title == "" {
		title = "title " + p.id
	}
	rec := topology.ProductRecord{
		Product: storage.Product{ID: p.id, Title: title, Description: p.description, Brand: p.brand, Category: p.category, Price: p.price, Currency: "EUR",
			Attributes: p.attrs, Media: []storage.Media{{Key: "img.jpg", Kind: "image", ContentType: "image/jpeg"}}},
		Revision: 1, Hashes: map[string]string{"text": "h"}, State: topology.StateIndexed, UploadedAt: p.uploaded, UpdatedAt: p.uploaded,
	}
	data, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.products.Put(e.ctx, p.id, data); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deleteProduct(id string) {
	e.t.Helper()
	if err := e.products.Delete(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
}

// publishEmb publishes a product's joint vector as fusion would.
func (e *env) publishEmb(s spaces.Space, id string, rev uint64, parts map[string][]float32) []float32 {
	e.t.Helper()
	joint, layout, err := s.Join(parts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.publish(topology.Embedding{ProductID: id, Space: s.Name, Revision: rev, Vector: joint, Blocks: layout, UploadedAt: baseTime})
	return joint
}

func (e *env) publishTombstone(s spaces.Space, id string, rev uint64) {
	e.t.Helper()
	e.publish(topology.Embedding{ProductID: id, Space: s.Name, Revision: rev, Deleted: true, UploadedAt: baseTime})
}

func (e *env) publish(emb topology.Embedding) {
	e.t.Helper()
	data, err := json.Marshal(emb)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.Publish(e.ctx, topology.EmbSubject(emb.Space, emb.ProductID), data); err != nil {
		e.t.Fatal(err)
	}
}

// catalogue builds n products in nClusters clusters of the test space:
// each modality vector is a cluster centre plus noise.
func catalogue(seed uint64, n, nClusters int) []*product {
	return catalogueDims(seed, n, nClusters, testSpace)
}

// catalogueDims is catalogue for the blocks of any space.
func catalogueDims(seed uint64, n, nClusters int, sp spaces.Space) []*product {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([]map[string][]float32, nClusters)
	for c := range centres {
		centres[c] = map[string][]float32{}
		for _, b := range sp.Blocks {
			centres[c][b.Modality] = randVec(rng, b.Dim)
		}
	}
	cats := [][]string{{"clothing", "shoes"}, {"clothing", "shirts"}, {"home", "kitchen"}, {"home"}}
	colours := []string{"red", "blue", "green"}
	out := make([]*product, n)
	for i := range out {
		c := i % nClusters
		p := &product{
			id:       fmt.Sprintf(idFormat(n), i),
			category: cats[rng.IntN(len(cats))],
			price:    float64(1 + rng.IntN(100)),
			attrs:    map[string]string{"color": colours[rng.IntN(len(colours))]},
			uploaded: baseTime.Add(-time.Duration(i) * time.Hour),
			cluster:  c,
			parts:    map[string][]float32{},
		}
		for _, b := range sp.Blocks { // block order: deterministic draws
			m, centre := b.Modality, centres[c][b.Modality]
			v := randVec(rng, len(centre))
			for j := range v {
				v[j] = centre[j] + 0.6*v[j]
			}
			p.parts[m] = v
		}
		out[i] = p
	}
	return out
}

func randVec(rng *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// load puts products into the catalogue and publishes their embeddings.
func (e *env) load(s spaces.Space, ps []*product) {
	e.t.Helper()
	for _, p := range ps {
		e.putProduct(p)
		p.joint = e.publishEmb(s, p.id, 1, p.parts)
	}
}

// testEncoders serves table-driven test encoders: each maps known inputs
// to fixed vectors and rejects anything else as bad input, which is what
// the ranker needs to be tested against without ONNX models.
type testEncoders struct {
	encs map[string]*tableEncoder
}

func (te *testEncoders) Encoder(ctx context.Context, model string) (extractors.Encoder, error) {
	if enc, ok := te.encs[model]; ok {
		return enc, nil
	}
	return nil, fmt.Errorf("model %s not registered", model)
}

type tableEncoder struct {
	mod   extractors.Modality
	model string
	dim   int
	mu    sync.Mutex
	table map[string][]float32
}

func (t *tableEncoder) Modality() extractors.Modality { return t.mod }
func (t *tableEncoder) Model() string                 { return t.model }
func (t *tableEncoder) Dim() int                      { return t.dim }
func (t *tableEncoder) Close() error                  { return nil }

func (t *tableEncoder) set(input string, v []float32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.table[input] = v
}

// Encode returns the vectors of known inputs; the input "block" waits for
// the context to end (deadline tests).
func (t *tableEncoder) Encode(ctx context.Context, inputs [][]byte) ([][]float32, error) {
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		if string(in) == "block" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		t.mu.Lock()
		v, ok := t.table[string(in)]
		t.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("input %d: not in the test table: %w", i, extractors.ErrBadInput)
		}
		out[i] = slices.Clone(v)
	}
	return out, nil
}

func newTestEncoders() (*testEncoders, *tableEncoder, *tableEncoder) {
	txt := &tableEncoder{mod: extractors.Text, model: "test-text@1", dim: 16, table: map[string][]float32{}}
	img := &tableEncoder{mod: extractors.Image, model: "test-image@1", dim: 8, table: map[string][]float32{}}
	return &testEncoders{encs: map[string]*tableEncoder{txt.model: txt, img.model: img}}, txt, img
}

// served is a started ranker behind a real gRPC server on loopback TCP.
type served struct {
	r        *ranker.Ranker
	rank     omnirankv1.RankerServiceClient
	feedback omnirankv1.FeedbackServiceClient
}

func (e *env) serve(enc ranker.Encoders, opts ...ranker.Option) *served {
	e.t.Helper()
	opts = append([]ranker.Option{ranker.WithLogger(testLogger()), ranker.WithClock(fixedClock)}, opts...)
	r, err := ranker.New(e.js, enc, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	sopts, err := ranker.ServerOptions()
	if err != nil {
		e.t.Fatal(err)
	}
	gs := grpc.NewServer(sopts...)
	r.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		_ = gs.Serve(lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
		<-serveDone
		_ = r.Close()
	})
	return &served{r: r, rank: omnirankv1.NewRankerServiceClient(conn), feedback: omnirankv1.NewFeedbackServiceClient(conn)}
}

// waitReady waits until the ranker caught up with space.
func (s *served) waitReady(t testing.TB, space string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := s.r.WaitReady(ctx, space); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds, failing after 15 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spaceStats(r *ranker.Ranker, name string) ranker.SpaceStats {
	for _, s := range r.Stats().Spaces {
		if s.Name == name {
			return s
		}
	}
	return ranker.SpaceStats{}
}

// bruteForce returns ids of ps ordered by dot(q, joint) descending (ties
// by id), keeping those accepted by keep.
func bruteForce(q []float32, ps []*product, keep func(*product) bool) []string {
	type scored struct {
		id string
		s  float32
	}
	var all []scored
	for _, p := range ps {
		if keep != nil && !keep(p) {
			continue
		}
		all = append(all, scored{p.id, dot(q, p.joint)})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].s != all[j].s {
			return all[i].s > all[j].s
		}
		return all[i].id < all[j].id
	})
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = s.id
	}
	return out
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func normalized(v []float32) []float32 {
	out := slices.Clone(v)
	spaces.Normalize(out)
	return out
}

func ids(res *omnirankv1.RecommendResponse) []string {
	out := make([]string, len(res.GetResults()))
	for i, r := range res.GetResults() {
		out[i] = r.GetId()
	}
	return out
}

func byID(ps []*product) map[string]*product {
	m := make(map[string]*product, len(ps))
	for _, p := range ps {
		m[p.id] = p
	}
	return m
}

func approx(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-4 }

// idFormat pads ids to the catalogue size (p000.. or p00000..).
func idFormat(n int) string {
	if n <= 1000 {
		return "p%03d"
	}
	return "p%05d"
}
