package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// childEnv makes the test binary act as `omnirank serve` (for kill -9 tests).
const childEnv = "OMNIRANK_TEST_CHILD_DATA_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir, os.Getenv("OMNIRANK_TEST_CHILD_GRPC")))
	}
	os.Exit(m.Run())
}

func runChild(dir, addr string) int {
	cfg := testConfig(dir)
	cfg.GRPCAddr = addr
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("READY", srv.GRPCAddr())
	select {} // until killed
}

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	cfg.FusionWait = time.Second
	cfg.ReconcileEvery = 0
	cfg.Device = "cpu"
	cfg.AckWait = 5 * time.Second // quick redelivery after the kill -9 test's crash
	// No speech recognition unless a test asks for it (voice_test.go):
	// its recognisers and language-model builds cost every server start.
	cfg.Speech.Off = true
	return cfg
}

type env struct {
	srv   *Server
	conn  *grpc.ClientConn
	cat   pb.CatalogServiceClient
	rank  pb.RankerServiceClient
	admin pb.AdminServiceClient
}

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, testConfig(t.TempDir()))
}

func (e *env) dial(t *testing.T, addr string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	e.cat = pb.NewCatalogServiceClient(conn)
	e.rank = pb.NewRankerServiceClient(conn)
	e.admin = pb.NewAdminServiceClient(conn)
}

// waitVectors polls AdminService.Status until the active space holds n vectors.
func (e *env) waitVectors(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got int64
	for time.Now().Before(deadline) {
		st, err := e.admin.Status(context.Background(), &pb.StatusRequest{})
		if err == nil {
			for _, sp := range st.GetSpaces() {
				if sp.GetActive() {
					got = sp.GetVectors()
				}
			}
			if got == n {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("active space holds %d vectors after %s, want %d", got, within, n)
}

type testProduct struct {
	id, title, category string
	seed                int
	audio               bool
}

var catalogue = []testProduct{
	{"shoe-red", "Red running shoes", "clothing/shoes", 1, true},
	{"mug-blue", "Blue ceramic coffee mug", "kitchen/cups", 2, false},
	{"chess", "Wooden chess board with pieces", "toys/games", 3, true},
	{"guitar", "Acoustic guitar with nylon strings", "music/instruments", 4, true},
	{"kettle", "Electric kettle stainless steel", "kitchen/appliances", 5, false},
	{"boots", "Leather hiking boots", "clothing/shoes", 6, true},
	{"drum", "Snare drum with sticks", "music/instruments", 7, false},
	{"teapot", "Porcelain teapot with flowers", "kitchen/cups", 8, true},
}

func (tp testProduct) upsert(t *testing.T) *pb.UpsertRequest {
	req := &pb.UpsertRequest{
		Product: &pb.Product{Id: tp.id, Title: tp.title, Description: "A fine " + strings.ToLower(tp.title) + ".",
			Category: strings.Split(tp.category, "/"), Price: float64(10 + tp.seed), Currency: "EUR",
			Media: []*pb.MediaRef{{Key: "image.png", Kind: "image", ContentType: "image/png"}}},
		Media: []*pb.MediaBlob{{Key: "image.png", Kind: "image", ContentType: "image/png", Data: testImage(t, tp.seed)}},
	}
	if tp.audio {
		req.Product.Media = append(req.Product.Media, &pb.MediaRef{Key: "voice.wav", Kind: "audio", ContentType: "audio/wav"})
		req.Media = append(req.Media, &pb.MediaBlob{Key: "voice.wav", Kind: "audio", ContentType: "audio/wav", Data: testWAV(t, tp.seed, 1.5)})
	}
	return req
}

func ids(resp *pb.RecommendResponse) []string {
	var out []string
	for _, r := range resp.GetResults() {
		out = append(out, r.GetId())
	}
	return out
}

func TestCatalogueSearchableEndToEnd(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	stream, err := e.cat.BulkUpsert(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range catalogue {
		if err := stream.Send(tp.upsert(t)); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAccepted() != int64(len(catalogue)) || resp.GetRejected() != 0 {
		t.Fatalf("bulk upsert: %+v", resp)
	}
	e.waitVectors(t, int64(len(catalogue)), time.Minute)

	t.Run("text", func(t *testing.T) {
		r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "red running shoe", K: 3, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(r); len(got) == 0 || got[0] != "shoe-red" {
			t.Fatalf("text query: got %v, want shoe-red first", got)
		}
		if r.GetSpace() != StarterSpaceName || r.GetModels()["text"] == "" {
			t.Errorf("response names space %q models %v", r.GetSpace(), r.GetModels())
		}
		if len(r.GetResults()[0].GetContributions()) == 0 {
			t.Error("explain=true gave no contributions")
		}
	})
	t.Run("image", func(t *testing.T) {
		r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryImage: testImage(t, 4), K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(r); len(got) == 0 || got[0] != "guitar" {
			t.Fatalf("image query: got %v, want guitar first", got)
		}
	})
	t.Run("audio", func(t *testing.T) {
		r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryAudio: testWAV(t, 3, 1.5), K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(r); len(got) == 0 || got[0] != "chess" {
			t.Fatalf("audio query: got %v, want chess first", got)
		}
	})
	t.Run("filter", func(t *testing.T) {
		r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "shoes", K: 10,
			Filter: &pb.Filter{CategoryPrefix: []string{"kitchen"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetResults()) != 3 {
			t.Fatalf("kitchen filter: got %v, want the 3 kitchen products", ids(r))
		}
		for _, res := range r.GetResults() {
			if res.GetCategory()[0] != "kitchen" {
				t.Errorf("filter let %s (%v) through", res.GetId(), res.GetCategory())
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		g, err := e.cat.Get(ctx, &pb.GetRequest{Id: "guitar"})
		if err != nil {
			t.Fatal(err)
		}
		if g.GetState() != "indexed" || g.GetProduct().GetTitle() != "Acoustic guitar with nylon strings" {
			t.Fatalf("get guitar: state %q product %v", g.GetState(), g.GetProduct())
		}
		if _, err := e.cat.Get(ctx, &pb.GetRequest{Id: "no-such-product"}); status.Code(err) != codes.NotFound {
			t.Fatalf("get unknown id: %v, want NotFound", err)
		}
	})
	t.Run("health and reflection", func(t *testing.T) {
		h, err := healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health: %v %v", h, err)
		}
		rs, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		msg, err := rs.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range msg.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		for _, want := range []string{"omnirank.v1.RankerService", "omnirank.v1.CatalogService", "omnirank.v1.FeedbackService", "omnirank.v1.AdminService", "grpc.health.v1.Health"} {
			if !slices.Contains(names, want) {
				t.Errorf("reflection lists %v, missing %s", names, want)
			}
		}
		_ = rs.CloseSend()
	})
	t.Run("update and delete", func(t *testing.T) {
		req := catalogue[1].upsert(t)
		req.Product.Title = "Blue enamel camping mug"
		req.Media = nil // the image is already in the bucket
		if _, err := e.cat.Upsert(ctx, req); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "updated title searchable", func() bool {
			r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "enamel camping", K: 1})
			return err == nil && len(r.GetResults()) == 1 && r.GetResults()[0].GetId() == "mug-blue" && r.GetResults()[0].GetTitle() == "Blue enamel camping mug"
		})
		if _, err := e.cat.Delete(ctx, &pb.DeleteRequest{Id: "drum"}); err != nil {
			t.Fatal(err)
		}
		e.waitVectors(t, int64(len(catalogue)-1), 30*time.Second)
		r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "snare drum sticks", K: 20})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids(r), "drum") {
			t.Fatalf("deleted product still returned: %v", ids(r))
		}
	})
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	waitForEvery(t, within, 100*time.Millisecond, what, cond)
}

// waitForEvery is waitFor looking every interval.
func waitForEvery(t *testing.T, within, every time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(every)
	}
	t.Fatalf("%s: not true after %s", what, within)
}

// A product written straight into the bucket by a plain S3 client becomes
// searchable through the bucket's event notification alone.
func TestPlainS3PutTriggersIngestion(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	store := e.srv.Store()
	p := storage.Product{ID: "lamp", Title: "Brass desk lamp", Category: []string{"home", "lighting"}, Price: 42, Currency: "EUR",
		Media: []storage.Media{{Key: "photo.png", Kind: "image", ContentType: "image/png"}}}
	data, _ := json.Marshal(p)
	begin := time.Now()
	if err := store.PutObject(ctx, storage.MediaKey("lamp", "photo.png"), testImage(t, 11), "image/png"); err != nil {
		t.Fatal(err)
	}
	if err := store.PutObject(ctx, storage.ProductKey("lamp"), data, "application/json"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "lamp searchable", func() bool {
		r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "brass desk lamp", K: 1})
		return err == nil && len(r.GetResults()) == 1 && r.GetResults()[0].GetId() == "lamp"
	})
	t.Logf("upload to searchable: %s", time.Since(begin).Round(time.Millisecond))
}

// Bad products get a clear, listed reason; good ones are unaffected.
func TestBadProductsAreRecorded(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	store := e.srv.Store()
	put := func(key string, data []byte) {
		t.Helper()
		if err := store.PutObject(ctx, key, data, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	good := func(id, title string) []byte {
		b, _ := json.Marshal(storage.Product{ID: id, Title: title})
		return b
	}
	put(storage.ProductKey("ok-1"), good("ok-1", "Green tea leaves"))
	put(storage.ProductKey("bad-json"), []byte(`{"id":"bad-json","title":`))
	put(storage.ProductKey("bad-utf8"), []byte("{\"id\":\"bad-utf8\",\"title\":\"caf\xe9\"}"))
	missing, _ := json.Marshal(storage.Product{ID: "no-media", Title: "Ghost", Media: []storage.Media{{Key: "gone.png", Kind: "image"}}})
	put(storage.ProductKey("no-media"), missing)
	huge, _ := json.Marshal(storage.Product{ID: "huge-text", Title: "Huge", Description: strings.Repeat("word ", 20000)})
	put(storage.ProductKey("huge-text"), huge)
	corrupt, _ := json.Marshal(storage.Product{ID: "corrupt-img", Title: "Broken picture frame", Media: []storage.Media{{Key: "x.png", Kind: "image"}}})
	put(storage.MediaKey("corrupt-img", "x.png"), []byte("\x89PNG\r\n\x1a\nnot really a png"))
	put(storage.ProductKey("corrupt-img"), corrupt)
	put(storage.ProductKey("ok-2"), good("ok-2", "Black coffee beans"))
	put("products/bad id!/product.json", good("bad id!", "Bad folder"))

	want := map[string]string{"bad-json": "", "bad-utf8": "UTF-8", "no-media": "gone.png", "huge-text": "description", "corrupt-img": ""}
	waitFor(t, 60*time.Second, "every bad product listed", func() bool {
		errs, err := e.admin.ListErrors(ctx, &pb.ListErrorsRequest{})
		if err != nil {
			return false
		}
		found := 0
		for _, ie := range errs.GetErrors() {
			if sub, ok := want[ie.GetProductId()]; ok && strings.Contains(ie.GetReason(), sub) && ie.GetReason() != "" {
				found++
			}
		}
		return found == len(want)
	})
	errs, _ := e.admin.ListErrors(ctx, &pb.ListErrorsRequest{})
	for _, ie := range errs.GetErrors() {
		t.Logf("rejected %s [%s]: %s", ie.GetProductId(), ie.GetStage(), ie.GetReason())
		if _, ok := want[ie.GetProductId()]; !ok {
			t.Errorf("good product %s listed as an error: %s", ie.GetProductId(), ie.GetReason())
		}
	}
	waitFor(t, 30*time.Second, "invalid folder name dead-lettered", func() bool {
		dls, err := e.admin.ListDeadLetters(ctx, &pb.ListDeadLettersRequest{Stage: "ingest"})
		if err != nil {
			return false
		}
		for _, d := range dls.GetDeadLetters() {
			if d.GetObjectKey() == "products/bad id!/product.json" && d.GetReason() != "" {
				return true
			}
		}
		return false
	})
	dls, err := e.admin.ListDeadLetters(ctx, &pb.ListDeadLettersRequest{Stage: "extract-image"})
	if err != nil || len(dls.GetDeadLetters()) != 1 || dls.GetDeadLetters()[0].GetProductId() != "corrupt-img" {
		t.Fatalf("extract-image dead letters: %v %v", dls, err)
	}
	for _, q := range []struct{ text, id string }{{"green tea", "ok-1"}, {"coffee beans", "ok-2"}} {
		waitFor(t, 30*time.Second, q.id+" searchable", func() bool {
			r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: q.text, K: 1})
			return err == nil && len(r.GetResults()) == 1 && r.GetResults()[0].GetId() == q.id
		})
	}
}

// kill -9 in the middle of ingestion, then restart on the same data: every
// product ends up indexed exactly once.
func TestKill9MidIngestConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	child := startChild(t, dir, addr)
	e := &env{}
	e.dial(t, addr)
	defer e.conn.Close()
	ctx := context.Background()
	const n = 40
	stream, err := e.cat.BulkUpsert(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tp := testProduct{id: fmt.Sprintf("p-%02d", i), title: fmt.Sprintf("Product number %d in colour %d", i, i*7%11), category: "misc/things", seed: i, audio: i%2 == 0}
		if err := stream.Send(tp.upsert(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	// Kill as soon as some products are indexed but not all.
	waitFor(t, 60*time.Second, "ingestion under way", func() bool {
		st, err := e.admin.Status(ctx, &pb.StatusRequest{})
		return err == nil && len(st.GetSpaces()) > 0 && st.GetSpaces()[0].GetVectors() > 0
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	startChild(t, dir, addr)
	e.waitVectors(t, n, 2*time.Minute)
	r, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "product number", K: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(r)
	slices.Sort(got)
	if len(got) != n || len(slices.Compact(slices.Clone(got))) != n {
		t.Fatalf("after kill -9 and restart: %d results (%d distinct), want %d", len(got), len(slices.Compact(got)), n)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// startChild runs this test binary as a server process on dir and waits
// until it serves.
func startChild(t *testing.T, dir, addr string) *exec.Cmd {
	t.Helper()
	return spawnChild(t, childEnv+"="+dir, "OMNIRANK_TEST_CHILD_GRPC="+addr)
}

// spawnChild re-executes this test binary with extra environment (which
// makes it act as a server process) and waits until it prints READY. The
// process is killed at the end of the test.
func spawnChild(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("child exited before serving")
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("child did not start in 2 minutes")
	}
	return cmd
}

// stageCount reads omnirank_stage_processed_total{stage, outcome} from the
// server's own metrics registry.
func stageCount(t *testing.T, srv *Server, stage, outcome string) float64 {
	t.Helper()
	mfs, err := srv.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "omnirank_stage_processed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["stage"] == stage && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// Content hashes decide what is encoded again, counted by the extractors'
// own metrics: re-uploading unchanged objects runs no model, a new
// description runs the text model only, a new price runs none.
func TestContentHashesSkipUnchangedModalities(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	store := e.srv.Store()
	kv, err := e.srv.JetStream().KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	tp := testProduct{id: "dedupe", title: "Walnut desk organiser", category: "office/desk", seed: 21, audio: true}
	objs := productObjects(t, tp)
	var p storage.Product
	if err := json.Unmarshal(objs[len(objs)-1].data, &p); err != nil {
		t.Fatal(err)
	}
	runs := func() map[string]float64 {
		out := map[string]float64{}
		for _, m := range topology.Modalities {
			out[m] = stageCount(t, e.srv, "extract-"+m, "done")
		}
		return out
	}
	// upload writes objects and waits until ingest has acked their events,
	// the record holds the new description and price in state indexed, the
	// models have run at least more times, and no extraction job is queued
	// or in hand: whatever the upload caused has run.
	upload := func(objs []object, price float64, more map[string]float64) {
		t.Helper()
		acked := stageCount(t, e.srv, "ingest", "done")
		before := runs()
		if err := putObjects(ctx, store, objs); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "upload handled", func() bool {
			if stageCount(t, e.srv, "ingest", "done") < acked+float64(len(objs)) {
				return false
			}
			rec := productRecord(t, kv, tp.id)
			if rec.State != topology.StateIndexed || rec.Product.Price != price || rec.Product.Description != p.Description {
				return false
			}
			now := runs()
			for m, n := range more {
				if now[m] < before[m]+n {
					return false
				}
			}
			return extractIdle(ctx, e.srv.JetStream())
		})
	}
	productJSON := func() object {
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return object{storage.ProductKey(tp.id), "application/json", data}
	}

	upload(objs, p.Price, map[string]float64{"text": 1, "image": 1, "audio": 1})
	first := runs()
	for _, m := range topology.Modalities {
		if first[m] != 1 {
			t.Fatalf("first upload ran the %s model %g times, want 1 (runs %v)", m, first[m], first)
		}
	}
	for _, step := range []struct {
		name   string
		change func() []object
		want   map[string]float64 // more runs per modality
	}{
		{"unchanged image and product.json uploaded again", func() []object {
			return []object{objs[0], productJSON()}
		}, map[string]float64{}},
		{"new description", func() []object {
			p.Description = "Holds pens, cards and a phone."
			return []object{productJSON()}
		}, map[string]float64{"text": 1}},
		{"new price", func() []object {
			p.Price += 5
			return []object{productJSON()}
		}, map[string]float64{}},
	} {
		before := runs()
		upload(step.change(), p.Price, step.want)
		after := runs()
		for _, m := range topology.Modalities {
			if got := after[m] - before[m]; got != step.want[m] {
				t.Errorf("%s: the %s model ran %g more times, want %g", step.name, m, got, step.want[m])
			}
		}
	}
}

// extractIdle reports whether no extraction job is queued or in hand.
func extractIdle(ctx context.Context, js jetstream.JetStream) bool {
	for _, m := range topology.Modalities {
		for _, l := range []topology.Lane{topology.LaneLive, topology.LaneBackfill} {
			c, err := js.Consumer(ctx, topology.StreamJobs, topology.ExtractConsumer(m, l))
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			if err != nil || info.NumPending+uint64(info.NumAckPending) > 0 {
				return false
			}
		}
	}
	return true
}
