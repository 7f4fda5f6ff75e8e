//go:build linux

package chaos

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// TestClusterFaults is the short multi-process run of `make test`: one
// NATS node, one ranker and one extractor are each SIGKILLed and restarted
// while products arrive and both rankers answer queries.
func TestClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and nine omnirank processes (a minute or two)")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	node := []string{"nats-1", "nats-2", "nats-3"}[rng.IntN(3)]
	plan := []plannedFault{
		{at: 4 * time.Second, down: 6 * time.Second, kind: "nats", target: node},
		{at: 13 * time.Second, down: 4 * time.Second, kind: "ranker", target: pRanker2},
		{at: 20 * time.Second, down: 4 * time.Second, kind: "extractor", target: pImage},
	}
	runScenario(t, scenario{mode: "scripted", products: 60, uploadEvery: 500 * time.Millisecond, plan: plan})
}

// TestChaos runs faults at random for $OMNIRANK_CHAOS_DURATION (`make
// chaos DURATION=5m`) and prints one JSON summary.
func TestChaos(t *testing.T) {
	v := os.Getenv("OMNIRANK_CHAOS_DURATION")
	if v == "" {
		t.Skip("set OMNIRANK_CHAOS_DURATION (make chaos DURATION=5m)")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 30*time.Second {
		t.Fatalf("OMNIRANK_CHAOS_DURATION=%q: want a duration of at least 30s", v)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OMNIRANK_CHAOS_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("OMNIRANK_CHAOS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("chaos seed %d (OMNIRANK_CHAOS_SEED=%d repeats the fault plan)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var plan []plannedFault
	targets := map[string][]string{"nats": {"nats-1", "nats-2", "nats-3"}, "ranker": rankers, "extractor": extractors}
	kinds := []string{"nats", "ranker", "extractor"}
	// One fault at a time: a kill every 5-20 s, down for 2-12 s, until
	// the duration is spent.
	for at := 5 * time.Second; ; {
		at += time.Duration(rng.Int64N(int64(15 * time.Second)))
		down := 2*time.Second + time.Duration(rng.Int64N(int64(10*time.Second)))
		if at+down > d {
			break
		}
		kind := kinds[rng.IntN(len(kinds))]
		plan = append(plan, plannedFault{at: at, down: down, kind: kind, target: targets[kind][rng.IntN(len(targets[kind]))]})
		at += down + 5*time.Second
	}
	runScenario(t, scenario{mode: "random", seed: seed, duration: d, uploadEvery: time.Second, plan: plan})
}

// plannedFault kills target at (from the start of the load) and restarts
// it after down.
type plannedFault struct {
	at, down     time.Duration
	kind, target string
}

type scenario struct {
	mode string
	seed uint64
	// products to upload (scripted), or upload until duration (random).
	products    int
	duration    time.Duration
	uploadEvery time.Duration
	plan        []plannedFault
}

// faultRecord is what happened to one fault, in seconds from the start
// of the load.
type faultRecord struct {
	Kind        string  `json:"kind"`
	Target      string  `json:"target"`
	KilledAt    float64 `json:"killed_at_s"`
	RestartedAt float64 `json:"restarted_at_s"`
	// ReadyAt is when the restarted process was serving again.
	ReadyAt float64 `json:"ready_at_s"`
}

// summary is the one JSON object a run reports.
type summary struct {
	Mode                       string         `json:"mode"`
	Seed                       uint64         `json:"seed,omitempty"`
	LoadS                      float64        `json:"load_s"`
	Products                   int            `json:"products"`
	Lost                       int            `json:"lost"`
	Duplicated                 int            `json:"duplicated"`
	UploadRetries              int64          `json:"upload_retries"`
	Queries                    int            `json:"queries"`
	QueriesDuringFaults        int            `json:"queries_during_faults"`
	QueryErrorsDuringFaults    int            `json:"query_errors_during_faults"`
	QueryErrorRateDuringFaults float64        `json:"query_error_rate_during_faults"`
	QueryP99MsDuringFaults     float64        `json:"query_p99_ms_during_faults"`
	QueryErrorRateOtherwise    float64        `json:"query_error_rate_otherwise"`
	QueryP99MsOtherwise        float64        `json:"query_p99_ms_otherwise"`
	QueryErrorsAfterConverged  int            `json:"query_errors_after_converged"`
	ErrorsByRanker             map[string]int `json:"query_errors_by_ranker"`
	ErrorsByCode               map[string]int `json:"query_errors_by_code"`
	DeadLetters                int64          `json:"dead_letters"`
	ListedErrors               int            `json:"listed_errors"`
	Faults                     []faultRecord  `json:"faults"`
	ConvergedS                 float64        `json:"converged_s"`
}

func runScenario(t *testing.T, sc scenario) {
	c := startCluster(t)
	clients := map[string]*grpc.ClientConn{}
	for name, addr := range c.grpc {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			// Reconnect within a second of a restart (the default backoff
			// grows to two minutes).
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond,
				Multiplier: 1.6, MaxDelay: time.Second}, MinConnectTimeout: 2 * time.Second}),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		clients[name] = conn
	}
	cat := pb.NewCatalogServiceClient(clients[pAPI])
	admin := pb.NewAdminServiceClient(clients[pAPI])

	// Replicated KV buckets are read from their leaders (topology.Ensure):
	// a follower's direct get may miss a write just made.
	for _, b := range []string{topology.BucketProducts, topology.BucketSpaces, topology.BucketErrors} {
		st, err := c.js.Stream(context.Background(), "KV_"+b)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := st.CachedInfo().Config; cfg.Replicas != 3 || cfg.AllowDirect {
			t.Errorf("KV %s: %d replicas, allow_direct %v; want 3 replicas read from the leader", b, cfg.Replicas, cfg.AllowDirect)
		}
	}

	// Each ranker loads its query encoder at its first request: warm both
	// before the clock starts, so that start-up is not counted as a fault.
	for _, r := range rankers {
		rc := pb.NewRankerServiceClient(clients[r])
		deadline := time.Now().Add(time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := rc.Recommend(ctx, &pb.RecommendRequest{QueryText: "warm up", K: 1})
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer: %v", r, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	start := time.Now()
	since := func() float64 { return math.Round(time.Since(start).Seconds()*10) / 10 }
	queries := startQueries(start, clients)
	up := startUploads(t, cat, sc)

	// Faults, one after another, from the plan.
	var faults []faultRecord
	for _, f := range sc.plan {
		if wait := time.Until(start.Add(f.at)); wait > 0 {
			time.Sleep(wait)
		}
		p := c.proc(f.target)
		rec := faultRecord{Kind: f.kind, Target: f.target, KilledAt: since()}
		p.kill()
		time.Sleep(f.down)
		rec.RestartedAt = since()
		if err := p.start(2 * time.Minute); err != nil {
			t.Fatalf("restart %s: %v", f.target, err)
		}
		rec.ReadyAt = since()
		faults = append(faults, rec)
		t.Logf("fault: kill -9 %s at %.1fs, restarted at %.1fs, serving at %.1fs", f.target, rec.KilledAt, rec.RestartedAt, rec.ReadyAt)
		if d := c.deaths(); len(d) > 0 {
			t.Fatalf("processes died by themselves: %s", strings.Join(d, "\n"))
		}
	}
	want := up.wait(t)
	loadEnd := time.Now()
	t.Logf("%d products uploaded in %s (%d retried uploads); faults over", len(want), loadEnd.Sub(start).Round(time.Second), up.retries.Load())

	// Convergence: every product indexed exactly once on both rankers.
	var lost, dup int
	var problem string
	converge := 3 * time.Minute
	if sc.mode == "random" {
		converge = 5 * time.Minute
	}
	deadline := time.Now().Add(converge)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		lost, dup, problem = checkIndexed(ctx, clients, want)
		cancel()
		if problem == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	converged := time.Since(loadEnd)
	queries.markConverged()
	time.Sleep(3 * time.Second) // queries after convergence must all succeed
	queries.stop()
	if d := c.deaths(); len(d) > 0 {
		t.Errorf("processes died by themselves: %s", strings.Join(d, "\n"))
	}

	sum := summary{Mode: sc.mode, Seed: sc.seed, LoadS: loadEnd.Sub(start).Seconds(), Products: len(want),
		Lost: lost, Duplicated: dup, UploadRetries: up.retries.Load(), Faults: faults,
		ConvergedS: math.Round(converged.Seconds()*10) / 10}
	queries.summarise(&sum, faults)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := admin.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	sum.DeadLetters = st.GetDeadLetters()
	errs, err := admin.ListErrors(ctx, &pb.ListErrorsRequest{})
	if err != nil {
		t.Fatalf("list errors: %v", err)
	}
	sum.ListedErrors = len(errs.GetErrors())
	out, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s\n", out)
	t.Logf("summary: %s", out)

	if problem != "" {
		t.Errorf("not converged %s after the load: %s", converge, problem)
	} else {
		t.Logf("converged %s after the load ended", converged.Round(100*time.Millisecond))
	}
	if sum.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none (every fault is transient)", sum.DeadLetters)
	}
	for _, ie := range errs.GetErrors() {
		t.Errorf("listed as an error: %s [%s]: %s", ie.GetProductId(), ie.GetStage(), ie.GetReason())
	}
	if sum.QueryErrorsAfterConverged != 0 {
		t.Errorf("%d queries failed after convergence, want none", sum.QueryErrorsAfterConverged)
	}
	if sum.QueriesDuringFaults == 0 {
		t.Errorf("no query ran during a fault: the load missed the faults")
	}
	for name, n := range st.GetStates() {
		if name != string(topology.StateIndexed) && n > 0 {
			t.Errorf("%d products in state %s, want every one indexed", n, name)
		}
	}
}

// product i of the run: a title, a picture, a voice-over on two in three.
type product struct {
	id    string
	audio bool
}

func (p product) modalities() []string {
	if p.audio {
		return []string{"audio", "image", "text"}
	}
	return []string{"image", "text"}
}

func upsertRequest(t *testing.T, i int) (*pb.UpsertRequest, product) {
	t.Helper()
	p := product{id: fmt.Sprintf("cx-%05d", i), audio: i%3 != 0}
	title := fmt.Sprintf("Product number %d in colour %d", i, i*7%11)
	req := &pb.UpsertRequest{
		Product: &pb.Product{Id: p.id, Title: title, Category: []string{"misc", "things"}, Price: float64(10 + i%50), Currency: "EUR",
			Media: []*pb.MediaRef{{Key: "image.png", Kind: "image", ContentType: "image/png"}}},
		Media: []*pb.MediaBlob{{Key: "image.png", Kind: "image", ContentType: "image/png", Data: picture(t, i)}},
	}
	if p.audio {
		req.Product.Media = append(req.Product.Media, &pb.MediaRef{Key: "voice.wav", Kind: "audio", ContentType: "audio/wav"})
		req.Media = append(req.Media, &pb.MediaBlob{Key: "voice.wav", Kind: "audio", ContentType: "audio/wav", Data: tone(i)})
	}
	return req, p
}

// picture is a 64×64 PNG: a gradient whose hues depend on i.
func picture(t *testing.T, i int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x*4 + i*29), uint8(y*4 + i*53), uint8((x+y)*2 + i*97), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tone is one second of 16 kHz mono PCM WAV at a pitch that depends on i.
func tone(i int) []byte {
	const rate, n = 16000, 16000
	hz := 220 + float64(i%24)*55
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, binary.LittleEndian, struct {
		Size                 uint32
		Format, Channels     uint16
		Rate, ByteRate       uint32
		Align, BitsPerSample uint16
	}{16, 1, 1, rate, 2 * rate, 2, 16})
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for k := range n {
		_ = binary.Write(&b, binary.LittleEndian, int16(12000*math.Sin(2*math.Pi*hz*float64(k)/rate)))
	}
	return b.Bytes()
}

// uploads upserts products through the API process at a steady pace,
// retrying a failed upsert (as a merchant's client would) for a minute.
type uploads struct {
	retries atomic.Int64
	done    chan error
	mu      sync.Mutex
	want    map[string][]string
}

func startUploads(t *testing.T, cat pb.CatalogServiceClient, sc scenario) *uploads {
	u := &uploads{done: make(chan error, 1), want: map[string][]string{}}
	end := time.Now().Add(sc.duration)
	go func() {
		tick := time.NewTicker(sc.uploadEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			if sc.products > 0 && i >= sc.products || sc.products == 0 && time.Now().After(end) {
				u.done <- nil
				return
			}
			req, p := upsertRequest(t, i)
			deadline := time.Now().Add(time.Minute)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := cat.Upsert(ctx, req)
				cancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					u.done <- fmt.Errorf("upsert %s: %w", p.id, err)
					return
				}
				u.retries.Add(1)
				time.Sleep(250 * time.Millisecond)
			}
			u.mu.Lock()
			u.want[p.id] = p.modalities()
			u.mu.Unlock()
			<-tick.C
		}
	}()
	return u
}

// wait returns the uploaded products (id → modalities).
func (u *uploads) wait(t *testing.T) map[string][]string {
	t.Helper()
	if err := <-u.done; err != nil {
		t.Fatal(err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.want
}

// queryLoad sends Recommend at a fixed rate, alternating between the
// rankers, each request timed from its scheduled send (open loop).
type queryLoad struct {
	start     time.Time
	quit      chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	samples   []sample
	converged time.Time
}

type sample struct {
	at      time.Duration // scheduled send, from start
	latency time.Duration
	ranker  string
	failed  bool
	code    string // gRPC status code of a failure
	after   bool   // sent after convergence
}

const queryRate = 10 // Recommend calls per second, both rankers together

func startQueries(start time.Time, conns map[string]*grpc.ClientConn) *queryLoad {
	q := &queryLoad{start: start, quit: make(chan struct{})}
	clients := map[string]pb.RankerServiceClient{}
	for _, r := range rankers {
		clients[r] = pb.NewRankerServiceClient(conns[r])
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		tick := time.NewTicker(time.Second / queryRate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-q.quit:
				return
			case <-tick.C:
			}
			sched := time.Now()
			r := rankers[i%len(rankers)]
			text := fmt.Sprintf("product number %d colour", i%97)
			q.wg.Add(1)
			go func() {
				defer q.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := clients[r].Recommend(ctx, &pb.RecommendRequest{QueryText: text, K: 10})
				cancel()
				q.mu.Lock()
				q.samples = append(q.samples, sample{at: sched.Sub(q.start), latency: time.Since(sched), ranker: r,
					failed: err != nil, code: status.Code(err).String(), after: !q.converged.IsZero() && sched.After(q.converged)})
				q.mu.Unlock()
			}()
		}
	}()
	return q
}

func (q *queryLoad) markConverged() {
	q.mu.Lock()
	q.converged = time.Now()
	q.mu.Unlock()
}

func (q *queryLoad) stop() {
	close(q.quit)
	q.wg.Wait()
}

// summarise fills the query figures: during faults means sent between a
// kill and the restarted process serving again.
func (q *queryLoad) summarise(s *summary, faults []faultRecord) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var during, other []time.Duration
	var nDuring, nOther, errDuring, errOther int
	s.ErrorsByRanker, s.ErrorsByCode = map[string]int{}, map[string]int{}
	for _, sm := range q.samples {
		in := false
		for _, f := range faults {
			if sec := sm.at.Seconds(); sec >= f.KilledAt && sec <= f.ReadyAt {
				in = true
			}
		}
		if sm.failed {
			s.ErrorsByRanker[sm.ranker]++
			s.ErrorsByCode[sm.code]++
			if sm.after {
				s.QueryErrorsAfterConverged++
			}
		}
		switch {
		case in:
			nDuring++
			if sm.failed {
				errDuring++
			} else {
				during = append(during, sm.latency)
			}
		default:
			nOther++
			if sm.failed {
				errOther++
			} else {
				other = append(other, sm.latency)
			}
		}
	}
	s.Queries = len(q.samples)
	s.QueriesDuringFaults, s.QueryErrorsDuringFaults = nDuring, errDuring
	s.QueryErrorRateDuringFaults = ratio(errDuring, nDuring)
	s.QueryErrorRateOtherwise = ratio(errOther, nOther)
	s.QueryP99MsDuringFaults, s.QueryP99MsOtherwise = p99ms(during), p99ms(other)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*10000) / 10000
}

func p99ms(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return math.Round(float64(ds[min(len(ds)-1, len(ds)*99/100)])/1e4) / 100
}

// checkIndexed says how far the cluster is from every product in want
// being indexed exactly once on both rankers: products missing from a
// ranker (lost), returned more than once by one (duplicated), and a
// description of the first problems ("" when there are none).
func checkIndexed(ctx context.Context, conns map[string]*grpc.ClientConn, want map[string][]string) (lost, dup int, problem string) {
	var problems []string
	missing, twice := map[string]bool{}, map[string]bool{}
	for _, r := range rankers {
		seen, err := recommendAll(ctx, pb.NewRankerServiceClient(conns[r]))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", r, err))
			continue
		}
		for id := range want {
			switch n := seen[id]; {
			case n == 0:
				missing[id] = true
				problems = append(problems, fmt.Sprintf("%s does not return %s", r, id))
			case n > 1:
				twice[id] = true
				problems = append(problems, fmt.Sprintf("%s returns %s %d times", r, id, n))
			}
		}
		for id := range seen {
			if want[id] == nil {
				problems = append(problems, fmt.Sprintf("%s returns %s, never uploaded", r, id))
			}
		}
		if v, err := activeVectors(ctx, pb.NewAdminServiceClient(conns[r])); err != nil {
			problems = append(problems, fmt.Sprintf("%s status: %v", r, err))
		} else if v != int64(len(want)) {
			problems = append(problems, fmt.Sprintf("%s holds %d vectors, want %d", r, v, len(want)))
		}
	}
	slices.Sort(problems)
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	return len(missing), len(twice), strings.Join(problems, "; ")
}

// recommendAll pages through a broad text query's whole ranking and
// counts each product id.
func recommendAll(ctx context.Context, rc pb.RankerServiceClient) (map[string]int, error) {
	seen := map[string]int{}
	req := &pb.RecommendRequest{QueryText: "product number colour", K: 1000}
	for page := 0; ; page++ {
		r, err := rc.Recommend(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("Recommend page %d: %w", page, err)
		}
		for _, res := range r.GetResults() {
			seen[res.GetId()]++
		}
		if r.GetNextPageToken() == "" || len(r.GetResults()) == 0 {
			return seen, nil
		}
		req.PageToken = r.GetNextPageToken()
	}
}

// activeVectors is the vector count of the active space on the ranker
// that answers.
func activeVectors(ctx context.Context, ac pb.AdminServiceClient) (int64, error) {
	st, err := ac.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return 0, err
	}
	for _, sp := range st.GetSpaces() {
		if sp.GetActive() {
			return sp.GetVectors(), nil
		}
	}
	return 0, fmt.Errorf("no active space")
}
