package server

// Fault tests (issue 4 acceptance): the pipeline is run against real parts
// (embedded NATS server, embedded S3 gateway, ONNX Runtime, gRPC loopback)
// and broken on purpose mid-ingestion: an extractor process killed with
// SIGKILL, the NATS server restarted, S3 unreachable for 10 s, and poison
// products mixed with good ones. Afterwards every good product must be
// indexed exactly once (the active space's vector count through
// AdminService.Status, a broad Recommend returning each id once, the last
// embedding of each product holding every block it has input for, and no
// product fused complete twice), and nothing may be dead-lettered or listed
// as an error except the poison.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/s3gw"
	"github.com/omnirank/omnirank/topology"
)

// faultChildEnv makes the test binary act as `omnirank serve` with the roles
// and external NATS and S3 given (as JSON) in the variable, so a test can
// kill one role's process while NATS and S3 live on in the test process.
// It is checked in init, before TestMain, so e2e_test.go's child protocol
// stays as it is.
const faultChildEnv = "OMNIRANK_TEST_FAULT_CHILD"

// childSpec is what a fault child process runs.
type childSpec struct {
	DataDir     string   `json:"data_dir"`
	Roles       []string `json:"roles"`
	NATSURL     string   `json:"nats_url"`
	S3Endpoint  string   `json:"s3_endpoint"`
	S3AccessKey string   `json:"s3_access_key"`
	S3SecretKey string   `json:"s3_secret_key"`
}

func init() {
	if spec := os.Getenv(faultChildEnv); spec != "" {
		os.Exit(runFaultChild(spec))
	}
}

func runFaultChild(spec string) int {
	var cs childSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, "fault child: bad spec:", err)
		return 2
	}
	cfg := testConfig(cs.DataDir)
	cfg.Roles = cs.Roles
	cfg.NATSURL, cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey = cs.NATSURL, cs.S3Endpoint, cs.S3AccessKey, cs.S3SecretKey
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv, err := Start(ctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault child:", err)
		return 1
	}
	fmt.Println("READY", srv.GRPCAddr())
	select {} // until killed
}

// startFaultChild runs this test binary as a server process with spec and
// waits until it serves.
func startFaultChild(t *testing.T, spec childSpec) *exec.Cmd {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return spawnChild(t, faultChildEnv+"="+string(data))
}

// natsHost is an embedded NATS server on a fixed port and store dir, so it
// can be stopped and started again under the same URL with its JetStream
// state.
type natsHost struct {
	t    *testing.T
	dir  string
	port int
	srv  *natsembed.Server
}

func startNATSHost(t *testing.T) *natsHost {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	h := &natsHost{t: t, dir: t.TempDir()}
	if _, err := fmt.Sscan(port, &h.port); err != nil {
		t.Fatal(err)
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *natsHost) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", h.port) }

func (h *natsHost) start() {
	h.t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: h.dir, Port: h.port, Logger: quietLogger()})
	if err != nil {
		h.t.Fatalf("start NATS on port %d: %v", h.port, err)
	}
	h.srv = srv
}

func (h *natsHost) stop() {
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
	}
}

// faultProxy forwards TCP connections to target until it is switched down;
// while down it drops every open connection and closes each new one at once
// (the client sees EOF or a reset, as from a crashed or restarting store).
type faultProxy struct {
	l       net.Listener
	target  string
	dropped atomic.Int64
	wg      sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.l.Addr().String() }

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			p.dropped.Add(1)
			_ = c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *faultProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		_ = up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// setDown switches the proxy; going down drops every open connection.
func (p *faultProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
			p.dropped.Add(1)
		}
	}
}

func (p *faultProxy) close() {
	_ = p.l.Close()
	p.setDown(true)
	p.wg.Wait()
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startWith starts an in-process server with cfg and a gRPC client to it
// (logging to cfg.Logger, quietLogger when nil).
func startWith(t *testing.T, cfg Config) *env {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	e := &env{srv: srv}
	e.dial(t, srv.GRPCAddr())
	t.Cleanup(func() {
		_ = e.conn.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Close(cctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// connectJS is the test's own client of the NATS server at url; it rides
// out server restarts.
func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("fault-test"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// faultProducts are n products titled "product number …" with an image
// each and a voice-over on two in three.
func faultProducts(prefix string, from, n int) []testProduct {
	out := make([]testProduct, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, testProduct{id: fmt.Sprintf("%s-%03d", prefix, i),
			title:    fmt.Sprintf("Product number %d in colour %d", i, i*7%11),
			category: "misc/things", seed: i, audio: i%3 != 0})
	}
	return out
}

func (tp testProduct) modalities() []string {
	if tp.audio {
		return []string{"audio", "image", "text"}
	}
	return []string{"image", "text"}
}

// putProduct writes a product straight into the bucket, media first and
// product.json last, as a merchant's S3 client would.
func putProduct(t *testing.T, store storage.ObjectStore, tp testProduct) {
	t.Helper()
	if err := putObjects(context.Background(), store, productObjects(t, tp)); err != nil {
		t.Fatal(err)
	}
}

type object struct {
	key, contentType string
	data             []byte
}

// productObjects are a product's objects in upload order.
func productObjects(t *testing.T, tp testProduct) []object {
	t.Helper()
	p := storage.Product{ID: tp.id, Title: tp.title, Category: strings.Split(tp.category, "/"), Price: float64(10 + tp.seed), Currency: "EUR",
		Media: []storage.Media{{Key: "image.png", Kind: "image", ContentType: "image/png"}}}
	objs := []object{{storage.MediaKey(tp.id, "image.png"), "image/png", testImage(t, tp.seed)}}
	if tp.audio {
		p.Media = append(p.Media, storage.Media{Key: "voice.wav", Kind: "audio", ContentType: "audio/wav"})
		objs = append(objs, object{storage.MediaKey(tp.id, "voice.wav"), "audio/wav", testWAV(t, tp.seed, 1.5)})
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return append(objs, object{storage.ProductKey(tp.id), "application/json", data})
}

// putObjects writes objs in order, retrying a failed PUT for up to a
// minute as a merchant's S3 client would.
func putObjects(ctx context.Context, store storage.ObjectStore, objs []object) error {
	for _, o := range objs {
		deadline := time.Now().Add(time.Minute)
		for {
			err := store.PutObject(ctx, o.key, o.data, o.contentType)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("put %s: %w", o.key, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return nil
}

// embWatch counts, from a plain subscription to the active space's
// embedding subjects, how often each product was fused with exactly the
// blocks it has input for. More than one such embedding is duplicated work
// (fusion skips republishing equal inputs). A plain subscription can miss
// messages while NATS restarts, so it proves "at most once", not "once".
type embWatch struct {
	mu       sync.Mutex
	want     map[string][]string
	complete map[string]int
	unknown  map[string]bool
}

func watchEmb(t *testing.T, nc *nats.Conn, want map[string][]string) *embWatch {
	t.Helper()
	w := &embWatch{want: maps.Clone(want), complete: map[string]int{}, unknown: map[string]bool{}}
	sub, err := nc.Subscribe(topology.EmbFilter(StarterSpaceName), func(m *nats.Msg) {
		var e topology.Embedding
		_, id, ok := topology.ProductFromEmbSubject(m.Subject)
		if !ok || json.Unmarshal(m.Data, &e) != nil || e.Deleted {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		mods, known := w.want[id]
		switch {
		case !known:
			w.unknown[id] = true
		case slices.Equal(presentBlocks(e), mods):
			w.complete[id]++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return w
}

// expect adds a product to those the watch knows (call it before the
// product is written).
func (w *embWatch) expect(id string, mods []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want[id] = mods
}

func (w *embWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, n := range w.complete {
		if n > 1 {
			t.Errorf("product %s was fused complete %d times, want once", id, n)
		}
	}
	for id := range w.unknown {
		t.Errorf("embedding published for unknown product %s", id)
	}
}

func presentBlocks(e topology.Embedding) []string {
	var out []string
	for _, b := range e.Blocks {
		if b.Present {
			out = append(out, b.Modality)
		}
	}
	slices.Sort(out)
	return out
}

// embProblem says what is still wrong with a space's embedding store
// against want (product id → modalities it must hold), or "".
func embProblem(ctx context.Context, js jetstream.JetStream, space string, want map[string][]string) string {
	stream, err := js.Stream(ctx, topology.StreamEmb)
	if err != nil {
		return "open EMB stream: " + err.Error()
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(topology.EmbFilter(space)))
	if err != nil {
		return "EMB stream info: " + err.Error()
	}
	var problems []string
	for subj := range info.State.Subjects {
		if _, id, ok := topology.ProductFromEmbSubject(subj); !ok || want[id] == nil {
			problems = append(problems, "unexpected embedding subject "+subj)
		}
	}
	for id, mods := range want {
		raw, err := stream.GetLastMsgForSubject(ctx, topology.EmbSubject(space, id))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: no embedding (%v)", id, err))
			continue
		}
		var e topology.Embedding
		if err := json.Unmarshal(raw.Data, &e); err != nil {
			problems = append(problems, fmt.Sprintf("%s: undecodable embedding: %v", id, err))
			continue
		}
		if got := presentBlocks(e); e.Deleted || !slices.Equal(got, mods) {
			problems = append(problems, fmt.Sprintf("%s: blocks %v (deleted %v), want %v", id, got, e.Deleted, mods))
		}
	}
	slices.Sort(problems)
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	return strings.Join(problems, "; ")
}

// assertIndexedOnce waits until the embedding store matches want, then
// checks the ranker: the active space holds exactly len(want) vectors and
// a broad Recommend returns each product once.
func assertIndexedOnce(t *testing.T, e *env, js jetstream.JetStream, want map[string][]string, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		problem := embProblem(ctx, js, StarterSpaceName, want)
		if problem == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("embedding store not converged after %s: %s", within, problem)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.waitVectors(t, int64(len(want)), 30*time.Second)
	// The ranker joins vectors with catalogue metadata it follows from the
	// products bucket; poll until that has caught up too.
	var problems []string
	begin := time.Now()
	for deadline := begin.Add(time.Minute); ; {
		problems = recommendProblems(ctx, e, "", want)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if lag := time.Since(begin); lag > time.Second {
		t.Logf("Recommend caught up with the embedding store %s later", lag.Round(100*time.Millisecond))
	}
}

// recommendProblems says how a broad Recommend (k=1000) differs from
// returning each product of want once.
func recommendProblems(ctx context.Context, e *env, space string, want map[string][]string) []string {
	// Page through the whole ranking (k is at most 1000 a page).
	seen := map[string]int{}
	req := &pb.RecommendRequest{QueryText: "product number colour", K: 1000, Space: space}
	for page := 0; ; page++ {
		r, err := e.rank.Recommend(ctx, req)
		if err != nil {
			return []string{fmt.Sprintf("Recommend(k=1000, page %d): %v", page, err)}
		}
		for _, id := range ids(r) {
			seen[id]++
		}
		if r.GetNextPageToken() == "" || len(r.GetResults()) == 0 {
			break
		}
		req.PageToken = r.GetNextPageToken()
	}
	var out []string
	for id := range want {
		if seen[id] != 1 {
			out = append(out, fmt.Sprintf("Recommend returned %s %d times, want once", id, seen[id]))
		}
	}
	for id := range seen {
		if want[id] == nil {
			out = append(out, fmt.Sprintf("Recommend returned %s, which should not be indexed", id))
		}
	}
	slices.Sort(out)
	return out
}

type deadLetter struct {
	topology.DeadLetter
	stream string // the DLQ subject it was stored under
}

// readDLQ returns every message in the DLQ stream.
func readDLQ(t *testing.T, js jetstream.JetStream) []deadLetter {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []deadLetter
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dl := deadLetter{stream: raw.Subject}
		if err := json.Unmarshal(raw.Data, &dl.DeadLetter); err != nil {
			t.Fatalf("DLQ message %d: %v", seq, err)
		}
		out = append(out, dl)
	}
	return out
}

// assertNoCasualties checks that nothing was dead-lettered or listed as an
// error: a transient fault must be retried, never given up on.
func assertNoCasualties(t *testing.T, e *env, js jetstream.JetStream) {
	t.Helper()
	for _, dl := range readDLQ(t, js) {
		t.Errorf("dead-lettered on %s: product %s (%s) after %d attempts: %s", dl.stream, dl.ProductID, dl.ObjectKey, dl.Attempts, dl.Reason)
	}
	errs, err := e.admin.ListErrors(context.Background(), &pb.ListErrorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ie := range errs.GetErrors() {
		t.Errorf("listed as an error: %s [%s]: %s", ie.GetProductId(), ie.GetStage(), ie.GetReason())
	}
}

// featuresStored is how many features messages the FEATURES stream holds.
func featuresStored(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, topology.StreamFeatures)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// extractAckPending is how many jobs extractors hold unacknowledged.
func extractAckPending(ctx context.Context, js jetstream.JetStream) (int, error) {
	n := 0
	for _, m := range []string{"text", "image", "audio"} {
		c, err := js.Consumer(ctx, topology.StreamJobs, topology.ExtractConsumer(m, topology.LaneLive))
		if err != nil {
			return 0, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, err
		}
		n += info.NumAckPending
	}
	return n, nil
}

// faultHarness is one fault scenario's world: NATS on a fixed port, the S3
// gateway and a proxy in front of it in the test process, and the server
// (with some roles perhaps in a child process) using NATS and the proxy.
type faultHarness struct {
	nats  *natsHost
	gw    *s3gw.Gateway
	proxy *faultProxy
	// direct writes to the gateway, not through the proxy.
	direct     *storage.S3Store
	access     string
	secret     string
	e          *env
	js         jetstream.JetStream
	child      *exec.Cmd
	childSpec  childSpec
	childRoles []string
}

func newFaultHarness(t *testing.T, parentRoles, childRoles []string) *faultHarness {
	t.Helper()
	ctx := context.Background()
	h := &faultHarness{childRoles: childRoles}
	h.nats = startNATSHost(t)
	var err error
	if h.access, h.secret, err = s3gw.LoadOrCreateCredentials(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	h.gw, err = s3gw.Start(ctx, s3gw.Config{Dir: t.TempDir(), AccessKey: h.access, SecretKey: h.secret,
		NatsURL: h.nats.url(), NatsTopic: topology.S3EventsSubject, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.gw.Close() })
	h.proxy = startProxy(t, h.gw.Endpoint())

	cfg := testConfig(t.TempDir())
	cfg.Roles = parentRoles
	cfg.NATSURL, cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey = h.nats.url(), h.proxy.addr(), h.access, h.secret
	h.e = startWith(t, cfg)
	// The gateway's shutdown waits (up to 10 s) for idle keep-alive
	// connections: close ours first.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	if h.direct, err = storage.NewS3Store(ctx, storage.S3Config{Endpoint: h.gw.Endpoint(), AccessKey: h.access, SecretKey: h.secret,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region}, storage.WithLogger(quietLogger()), storage.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}
	h.js = connectJS(t, h.nats.url())
	if len(childRoles) > 0 {
		h.childSpec = childSpec{DataDir: t.TempDir(), Roles: childRoles, NATSURL: h.nats.url(),
			S3Endpoint: h.proxy.addr(), S3AccessKey: h.access, S3SecretKey: h.secret}
		h.child = startFaultChild(t, h.childSpec)
	}
	return h
}

// The pipeline converges after each fault: every product uploaded before,
// during and after it is indexed exactly once, and the fault, being
// transient, dead-letters nothing.
func TestFaultsConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("injects faults into running pipelines (tens of seconds each)")
	}
	ingestFusionRanker := []string{RoleIngest, RoleFusion, RoleRanker}
	cases := []struct {
		name        string
		parentRoles []string
		childRoles  []string
		// inFlight also requires extraction jobs held unacked before the fault.
		inFlight bool
		// inject breaks something and returns how to mend it.
		inject func(t *testing.T, h *faultHarness) (mend func())
		// outage is how long the fault lasts (products keep arriving).
		outage time.Duration
		// verify checks the fault really hit the pipeline.
		verify func(t *testing.T, h *faultHarness)
	}{
		{
			name:        "kill -9 extractor process mid-batch",
			parentRoles: ingestFusionRanker, childRoles: []string{RoleExtract}, inFlight: true,
			inject: func(t *testing.T, h *faultHarness) func() {
				if err := h.child.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = h.child.Wait()
				return func() { h.child = startFaultChild(t, h.childSpec) }
			},
			outage: time.Second,
		},
		{
			name:        "NATS server restart",
			parentRoles: []string{RoleAll},
			inject: func(t *testing.T, h *faultHarness) func() {
				h.nats.stop()
				return h.nats.start
			},
			outage: 3 * time.Second,
		},
		{
			name:        "S3 unreachable for 10s",
			parentRoles: []string{RoleAll},
			inject: func(t *testing.T, h *faultHarness) func() {
				h.proxy.setDown(true)
				return func() { h.proxy.setDown(false) }
			},
			outage: 10 * time.Second,
			verify: func(t *testing.T, h *faultHarness) {
				if n := h.proxy.dropped.Load(); n == 0 {
					t.Error("no S3 connection was dropped during the outage: the fault missed the pipeline")
				} else {
					t.Logf("S3 connections dropped during the outage: %d", n)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFaultHarness(t, tc.parentRoles, tc.childRoles)
			ctx := context.Background()
			before, during := faultProducts("p", 0, 18), faultProducts("p", 18, 8)
			want := map[string][]string{}
			total := uint64(0)
			for _, tp := range slices.Concat(before, during) {
				want[tp.id] = tp.modalities()
			}
			for _, tp := range before {
				total += uint64(len(tp.modalities()))
			}
			w := watchEmb(t, h.js.Conn(), want)
			for _, tp := range before {
				putProduct(t, h.direct, tp)
			}
			// Break things while extraction is under way: some features
			// out, not all (and, for the kill, jobs in the extractor's hands).
			// It looks every 5 ms (a batch is in an extractor's hands for
			// milliseconds); a fast extractor can still finish between two
			// looks: then another wave of products is written, up to five.
			var atFault uint64
			waves := 0
			waitForEvery(t, 60*time.Second, 5*time.Millisecond, "extraction under way", func() bool {
				n, err := featuresStored(ctx, h.js)
				if err != nil || n == 0 {
					return false
				}
				if n >= total {
					if waves == 5 {
						t.Fatalf("all %d features were out before the fault could be injected, %d times", n, waves+1)
					}
					waves++
					for _, tp := range faultProducts(fmt.Sprintf("wave%d", waves), 0, 18) {
						want[tp.id] = tp.modalities()
						w.expect(tp.id, tp.modalities())
						total += uint64(len(tp.modalities()))
						putProduct(t, h.direct, tp)
					}
					return false
				}
				if tc.inFlight {
					if p, err := extractAckPending(ctx, h.js); err != nil || p == 0 {
						return false
					}
				}
				atFault = n
				return true
			})
			// More products arrive during the fault, each on its own
			// client; the fault is mended after outage whether or not
			// their PUTs went through meanwhile.
			objs := make([][]object, len(during))
			for i, tp := range during {
				objs[i] = productObjects(t, tp)
			}
			mend := tc.inject(t, h)
			t.Logf("fault injected with %d of %d features out (%d extra waves)", atFault, total, waves)
			uploads := make(chan error, len(during))
			for _, o := range objs {
				go func() { uploads <- putObjects(ctx, h.direct, o) }()
			}
			time.Sleep(tc.outage)
			mend()
			for range during {
				if err := <-uploads; err != nil {
					t.Fatalf("upload during the fault: %v", err)
				}
			}
			if tc.verify != nil {
				tc.verify(t, h)
			}
			assertIndexedOnce(t, h.e, h.js, want, 2*time.Minute)
			w.check(t)
			assertNoCasualties(t, h.e, h.js)
		})
	}
}

// Poison products among good ones: the good ones are indexed once; each
// poison one is listed by AdminService.ListErrors with its reason, and the
// ones whose medium cannot be decoded are dead-lettered by their extractor
// (ingest rejects bad records itself and lists them; it dead-letters only
// events it cannot parse). A product with one undecodable medium stays
// searchable through its other modalities.
func TestPoisonProductsAreSetAside(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	store := e.srv.Store()
	js := e.srv.JetStream()
	goods := faultProducts("good", 0, 8)
	want := map[string][]string{}
	for _, tp := range goods {
		want[tp.id] = tp.modalities()
	}
	put := func(key string, data []byte) {
		t.Helper()
		if err := store.PutObject(ctx, key, data, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	productJSON := func(p storage.Product) []byte {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wav := testWAV(t, 5, 1.5)
	poison := []struct {
		id string
		// upload writes the product's objects, product.json last.
		upload func(id string)
		// stage and reason (a substring) expected in ListErrors.
		stage, reason string
		// dlq is the DLQ subject expected to hold it, "" for none.
		dlq string
		// indexed is the blocks it stays searchable with, nil for none.
		indexed []string
	}{
		{id: "poison-corrupt-image", stage: "extract-image", reason: "", dlq: topology.DLQSubject("extract-image"), indexed: []string{"text"},
			upload: func(id string) {
				put(storage.MediaKey(id, "x.png"), []byte("\x89PNG\r\n\x1a\nnot really a png"))
				put(storage.ProductKey(id), productJSON(storage.Product{ID: id, Title: "Product number 90 broken picture frame",
					Media: []storage.Media{{Key: "x.png", Kind: "image"}}}))
			}},
		{id: "poison-truncated-audio", stage: "extract-audio", reason: "truncated", dlq: topology.DLQSubject("extract-audio"), indexed: []string{"image", "text"},
			upload: func(id string) {
				put(storage.MediaKey(id, "image.png"), testImage(t, 91))
				put(storage.MediaKey(id, "voice.wav"), wav[:len(wav)/2])
				put(storage.ProductKey(id), productJSON(storage.Product{ID: id, Title: "Product number 91 cut-off jingle",
					Media: []storage.Media{{Key: "image.png", Kind: "image"}, {Key: "voice.wav", Kind: "audio"}}}))
			}},
		{id: "poison-invalid-json", stage: "ingest", reason: "",
			upload: func(id string) { put(storage.ProductKey(id), []byte(`{"id":"`+id+`","title":`)) }},
		{id: "poison-missing-media", stage: "ingest", reason: "gone.png",
			upload: func(id string) {
				put(storage.ProductKey(id), productJSON(storage.Product{ID: id, Title: "Product number 93 ghost",
					Media: []storage.Media{{Key: "gone.png", Kind: "image"}}}))
			}},
		{id: "poison-oversize-text", stage: "ingest", reason: "description",
			upload: func(id string) {
				put(storage.ProductKey(id), productJSON(storage.Product{ID: id, Title: "Product number 94 verbose",
					Description: strings.Repeat("word ", 20000)}))
			}},
	}
	for _, p := range poison {
		if p.indexed != nil {
			want[p.id] = p.indexed
		}
	}
	w := watchEmb(t, js.Conn(), want)
	for i, tp := range goods {
		putProduct(t, store, tp)
		if i < len(poison) {
			poison[i].upload(poison[i].id)
		}
	}

	for _, p := range poison {
		t.Run(p.id, func(t *testing.T) {
			var got *pb.IngestError
			waitFor(t, 60*time.Second, p.id+" listed as an error", func() bool {
				errs, err := e.admin.ListErrors(ctx, &pb.ListErrorsRequest{})
				if err != nil {
					return false
				}
				for _, ie := range errs.GetErrors() {
					if ie.GetProductId() == p.id {
						got = ie
						return true
					}
				}
				return false
			})
			t.Logf("listed [%s]: %s", got.GetStage(), got.GetReason())
			if got.GetStage() != p.stage || got.GetReason() == "" || !strings.Contains(got.GetReason(), p.reason) {
				t.Errorf("listed as [%s] %q, want stage %s and a reason containing %q", got.GetStage(), got.GetReason(), p.stage, p.reason)
			}
		})
	}
	// A reconcile (at start, every --reconcile-every, or on request)
	// re-syncs every product: it must not hide one that is still broken.
	if _, err := e.admin.Reconcile(ctx, &pb.ReconcileRequest{}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	listed := map[string]string{}
	errs, err := e.admin.ListErrors(ctx, &pb.ListErrorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ie := range errs.GetErrors() {
		listed[ie.GetProductId()] = ie.GetStage()
		if !strings.HasPrefix(ie.GetProductId(), "poison-") {
			t.Errorf("good product %s listed as an error: %s", ie.GetProductId(), ie.GetReason())
		}
	}
	for _, p := range poison {
		if listed[p.id] != p.stage {
			t.Errorf("after a reconcile %s is listed with stage %q, want %q", p.id, listed[p.id], p.stage)
		}
	}
	assertIndexedOnce(t, e, js, want, time.Minute)
	w.check(t)

	// Every product reaches a final state: good ones indexed; one whose
	// medium an extractor rejected is partial, with the rejection as its
	// error; one ingest rejected is failed.
	kv, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	finalState := map[string]topology.ProductState{}
	for _, tp := range goods {
		finalState[tp.id] = topology.StateIndexed
	}
	for _, p := range poison {
		switch {
		case p.dlq != "":
			finalState[p.id] = topology.StatePartial
		case p.stage == "ingest":
			finalState[p.id] = topology.StateFailed
		}
	}
	for id, st := range finalState {
		var rec topology.ProductRecord
		waitFor(t, 30*time.Second, id+" in state "+string(st), func() bool {
			rec = productRecord(t, kv, id)
			return rec.State == st
		})
		if st == topology.StatePartial && !strings.Contains(rec.Error, strings.TrimPrefix(listed[id], "extract-")+": ") {
			t.Errorf("%s is partial with error %q, want the rejected %s input named", id, rec.Error, listed[id])
		}
		if st == topology.StateIndexed && rec.Error != "" {
			t.Errorf("%s is indexed with error %q", id, rec.Error)
		}
		// The catalogue API reports the same final state.
		got, err := e.cat.Get(ctx, &pb.GetRequest{Id: id})
		if err != nil {
			t.Fatalf("Get %s: %v", id, err)
		}
		if got.GetState() != string(st) {
			t.Errorf("CatalogService.Get(%s).State = %q, want %q", id, got.GetState(), st)
		}
	}

	dlqs := map[string][]deadLetter{}
	for _, dl := range readDLQ(t, js) {
		dlqs[dl.ProductID] = append(dlqs[dl.ProductID], dl)
	}
	for _, p := range poison {
		got := dlqs[p.id]
		delete(dlqs, p.id)
		if p.dlq == "" {
			if len(got) != 0 {
				t.Errorf("%s dead-lettered %d times, want none (ingest lists it instead)", p.id, len(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s dead-lettered %d times, want once", p.id, len(got))
			continue
		}
		dl := got[0]
		if dl.stream != p.dlq || dl.Stage != p.stage || !strings.Contains(dl.Reason, p.reason) || dl.Reason == "" ||
			!strings.HasPrefix(dl.ObjectKey, storage.ProductsPrefix+p.id+"/") || dl.Attempts != 1 || len(dl.Original) == 0 {
			t.Errorf("%s dead letter: on %s stage %s key %s attempts %d reason %q original %d bytes; want on %s, stage %s, its medium, attempt 1, reason with %q and the original job",
				p.id, dl.stream, dl.Stage, dl.ObjectKey, dl.Attempts, dl.Reason, len(dl.Original), p.dlq, p.stage, p.reason)
		}
		var job topology.Job
		if err := json.Unmarshal(dl.Original, &job); err != nil || job.ProductID != p.id {
			t.Errorf("%s dead letter carries job %+v (%v), want the original job", p.id, job, err)
		}
	}
	for id, dls := range dlqs {
		t.Errorf("good product %s dead-lettered: %+v", id, dls)
	}
}

// productRecord reads a product's record from the products bucket.
func productRecord(t *testing.T, kv jetstream.KeyValue, id string) topology.ProductRecord {
	t.Helper()
	var rec topology.ProductRecord
	e, err := kv.Get(context.Background(), id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rec
	}
	if err != nil {
		t.Fatalf("read record %s: %v", id, err)
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatalf("decode record %s: %v", id, err)
	}
	return rec
}
