package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/eval"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/starter"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// campaignSpace is the space the campaign test builds: the starter space
// with its text block on a second text model.
const campaignSpace = "starter-v2"

// registerTextV2 registers a second version of the starter text model
// through AdminService: the same graph under another version ("1-rerun";
// not "2", which is starter-text@2, the model learnt from WordNet), so a
// block on it is a changed model that must be re-encoded (and, the
// weights being the same, the evaluation gate passes).
func registerTextV2(t *testing.T, ac pb.AdminServiceClient) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := starter.WriteVersion(dir, "text", "1-rerun"); err != nil {
		t.Fatal(err)
	}
	var files []*pb.ModelFile
	for _, name := range []string{manifest.ModelFile, manifest.FileName} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, &pb.ModelFile{Name: name, Data: data})
	}
	resp, err := ac.RegisterModel(context.Background(), &pb.RegisterModelRequest{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetModel().GetId()
}

// wantCode fails the test unless err is a gRPC error with code.
func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	t.Logf("%s: refused: %s", what, status.Convert(err).Message())
}

// recommendLoad calls Recommend on the active alias, one call at a time
// (as one client would), until stopped, and counts failed and empty
// answers and the spaces that answered.
type recommendLoad struct {
	calls, failed atomic.Int64
	mu            sync.Mutex
	problems      []string
	spaces        map[string]int
	stop          chan struct{}
	done          chan struct{}
}

func startRecommendLoad(e *env, titles []string) *recommendLoad {
	l := &recommendLoad{spaces: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: titles[i%len(titles)], K: 10})
			cancel()
			l.calls.Add(1)
			l.mu.Lock()
			switch {
			case err != nil:
				l.failed.Add(1)
				l.problems = append(l.problems, err.Error())
			case len(resp.GetResults()) == 0:
				l.failed.Add(1)
				l.problems = append(l.problems, "empty answer from "+resp.GetSpace())
			default:
				l.spaces[resp.GetSpace()]++
			}
			l.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return l
}

func (l *recommendLoad) answeredBy() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.spaces {
		out[k] = v
	}
	return out
}

func (l *recommendLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("Recommend during the campaign: %d calls, %d failed or empty, answered by %v", l.calls.Load(), l.failed.Load(), l.spaces)
	if l.failed.Load() != 0 {
		t.Errorf("%d Recommend calls failed or came back empty, want 0: %v", l.failed.Load(), l.problems[:min(5, len(l.problems))])
	}
	if l.calls.Load() < 10 {
		t.Errorf("only %d Recommend calls were made", l.calls.Load())
	}
}

// titleQueries are labelled queries that each look for one product by
// its title.
func titleQueries(products []testProduct) []eval.Query {
	qs := make([]eval.Query, 0, len(products))
	for _, tp := range products {
		qs = append(qs, eval.Query{ID: "title-" + tp.id, Text: tp.title, Relevant: []string{tp.id}})
	}
	return qs
}

// The acceptance test of re-embedding campaigns: a catalogue indexed in
// the active space; a new space whose text block is a changed model; a
// campaign (controller in its own process) runs while Recommend calls and
// new uploads go on; the controller is killed with SIGKILL mid-way and
// restarted; promote; every product is in the new space once, the uploads
// made during the campaign in both spaces, no Recommend call failed, every
// model ran exactly as often as needed (none skipped, none twice); roll
// back and the same holds.
//
// campaignProducts products: 1,000 (about 3.5 minutes under -race on the
// shared 2-core build machine); OMNIRANK_CAMPAIGN_PRODUCTS=150 for a
// quicker run while iterating.
func TestCampaignEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole campaign over 1,000 products (minutes)")
	}
	campaignProducts, duringProducts := 1000, 10
	if v := os.Getenv("OMNIRANK_CAMPAIGN_PRODUCTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 30 {
			t.Fatalf("OMNIRANK_CAMPAIGN_PRODUCTS=%q: want a number of at least 30", v)
		}
		campaignProducts = n
	}
	// Waits and the rate cap grow with the catalogue.
	scale := time.Duration(max(1, campaignProducts/150))
	rate := float64(max(15, campaignProducts/10))
	h := newFaultHarness(t, []string{RoleIngest, RoleExtract, RoleFusion, RoleRanker}, nil)
	ctx := context.Background()
	ac := h.e.admin
	before, during := faultProducts("c", 0, campaignProducts), faultProducts("c", campaignProducts, duringProducts)
	wantBefore, wantAll := map[string][]string{}, map[string][]string{}
	var titles []string
	for _, tp := range before {
		wantBefore[tp.id] = tp.modalities()
		titles = append(titles, tp.title)
	}
	for _, tp := range slices.Concat(before, during) {
		wantAll[tp.id] = tp.modalities()
	}
	start := time.Now()
	putAll(t, h, before)
	assertIndexedOnce(t, h.e, h.js, wantBefore, scale*4*time.Minute)
	t.Logf("%d products indexed in the active space in %s", campaignProducts, time.Since(start).Round(time.Second))

	textV2 := registerTextV2(t, ac)
	// Bad input: each a clear error, nothing changed.
	_, err := ac.CreateSpace(ctx, &pb.CreateSpaceRequest{Name: "bad", Blocks: []string{"text=no-such-model@1"}})
	wantCode(t, "space with an unknown model", err, codes.InvalidArgument)
	_, err = ac.StartCampaign(ctx, &pb.StartCampaignRequest{Space: "no-such-space"})
	wantCode(t, "campaign into an unknown space", err, codes.NotFound)
	_, err = ac.StartCampaign(ctx, &pb.StartCampaignRequest{Space: StarterSpaceName})
	wantCode(t, "campaign on the active space", err, codes.FailedPrecondition)
	if _, err := ac.GetSpace(ctx, &pb.GetSpaceRequest{Name: "bad"}); status.Code(err) != codes.NotFound {
		t.Fatalf("the refused space was stored: %v", err)
	}

	sp, err := ac.CreateSpace(ctx, &pb.CreateSpaceRequest{Name: campaignSpace,
		Blocks: []string{"text=" + textV2, "image=starter-image@1", "audio=starter-audio@1:0.5"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("created %s (dim %d)", sp.GetName(), sp.GetDim())
	if _, err := ac.CreateSpace(ctx, &pb.CreateSpaceRequest{Name: "starter-v3", Blocks: []string{"text=" + textV2}}); err != nil {
		t.Fatal(err)
	}

	runs := func() map[string]float64 {
		out := map[string]float64{}
		for _, m := range topology.Modalities {
			out[m] = stageCount(t, h.e.srv, "extract-"+m, "done")
		}
		return out
	}
	runsBefore := runs()
	load := startRecommendLoad(h.e, titles)

	// The controller runs in its own process, so it can be killed.
	h.childSpec = childSpec{DataDir: t.TempDir(), Roles: []string{RoleCampaign}, NATSURL: h.nats.url(),
		S3Endpoint: h.proxy.addr(), S3AccessKey: h.access, S3SecretKey: h.secret}
	h.child = startFaultChild(t, h.childSpec)
	// A rate cap, so that the controller is killed while it still queues.
	st, err := ac.StartCampaign(ctx, &pb.StartCampaignRequest{Space: campaignSpace, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetState() != "running" || st.GetFrom() != StarterSpaceName {
		t.Fatalf("started: %v", st)
	}
	_, err = ac.StartCampaign(ctx, &pb.StartCampaignRequest{Space: "starter-v3"})
	wantCode(t, "a second campaign at once", err, codes.FailedPrecondition)

	// New uploads during the campaign.
	uploads := make(chan error, 1)
	go func() {
		for _, tp := range during {
			if err := putObjects(ctx, h.direct, productObjects(t, tp)); err != nil {
				uploads <- err
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
		uploads <- nil
	}()

	waitFor(t, scale*2*time.Minute, "campaign a third queued", func() bool {
		st, err := ac.GetCampaign(ctx, &pb.CampaignRequest{})
		return err == nil && st.GetQueued() >= int64(campaignProducts/3)
	})
	if err := h.child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.child.Wait()
	st, err = ac.GetCampaign(ctx, &pb.CampaignRequest{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("controller killed at %d queued, %d/%d done", st.GetQueued(), st.GetDone(), st.GetTotal())
	if st.GetQueued() >= int64(campaignProducts) {
		t.Fatalf("the whole catalogue was queued before the kill: nothing left to resume")
	}
	time.Sleep(time.Second)
	h.child = startFaultChild(t, h.childSpec)

	waitFor(t, scale*4*time.Minute, "campaign done", func() bool {
		st, err = ac.GetCampaign(ctx, &pb.CampaignRequest{})
		return err == nil && st.GetState() == "done"
	})
	if err := <-uploads; err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign done: %d/%d, %d failed, %d model runs queued, %d features reused; %.1f products/s at the end",
		st.GetDone(), st.GetTotal(), st.GetFailed(), st.GetEncoded(), st.GetReused(), st.GetItemsPerS())
	if st.GetFailed() != 0 {
		t.Errorf("%d products failed", st.GetFailed())
	}

	// Every product, those uploaded during the campaign too, in both
	// spaces, fused from its current inputs; nothing else.
	for _, space := range []string{campaignSpace, StarterSpaceName} {
		waitFor(t, scale*2*time.Minute, "space "+space+" complete", func() bool {
			p := embProblem(ctx, h.js, space, wantAll)
			if p != "" {
				t.Logf("%s: %s", space, p)
			}
			return p == ""
		})
	}
	// Each model ran exactly as often as needed: the text model once per
	// product in each space, the unchanged image and audio models once per
	// product in the old space and once more only for products uploaded
	// during the campaign (live dual write); reused features cost none.
	after := runs()
	want := map[string]float64{}
	want["text"] = float64(len(before))
	for _, tp := range during {
		for _, m := range tp.modalities() {
			want[m] += 2
		}
	}
	for _, m := range topology.Modalities {
		if got := after[m] - runsBefore[m]; got != want[m] {
			t.Errorf("the %s model ran %g times during the campaign, want %g (no product skipped, none encoded twice)", m, got, want[m])
		}
	}

	// Evaluate side by side, store it, promote through the gate.
	sample := before[:20]
	cmp, err := eval.CompareSpaces(ctx, h.e.rank, titleQueries(sample), eval.DefaultConfig(), StarterSpaceName, campaignSpace)
	if err != nil {
		t.Fatal(err)
	}
	old, nw := cmp.A.All.NDCG, cmp.B.All.NDCG
	t.Logf("NDCG@10 on %d title queries: %s %.4f, %s %.4f; top-10 overlap %.3f", len(sample), StarterSpaceName, old, campaignSpace, nw, cmp.Overlap)
	if cmp.A.Failed+cmp.B.Failed > 0 || cmp.A.All.N != len(sample) {
		t.Fatalf("evaluation: %d and %d of %d queries failed", cmp.A.Failed, cmp.B.Failed, len(sample))
	}
	if _, err := ac.StoreEvaluation(ctx, &pb.StoreEvaluationRequest{K: 10, Queries: int32(len(sample)), ActiveNdcg: old, CampaignNdcg: nw}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.PromoteCampaign(ctx, &pb.PromoteCampaignRequest{}); err != nil {
		t.Fatalf("promote: %v", err)
	}
	waitFor(t, 30*time.Second, "Recommend answered by "+campaignSpace, func() bool { return load.answeredBy()[campaignSpace] > 3 })
	h.e.waitVectors(t, int64(len(wantAll)), 30*time.Second)
	if p := recommendProblems(ctx, h.e, "", wantAll); len(p) > 0 {
		t.Errorf("after promotion: %v", p[:min(5, len(p))])
	}

	// A live upload after promotion still reaches both spaces (a rollback
	// loses nothing).
	late := faultProducts("c", campaignProducts+duringProducts, 1)
	putAll(t, h, late)
	wantAll[late[0].id] = late[0].modalities()
	for _, space := range []string{campaignSpace, StarterSpaceName} {
		waitFor(t, time.Minute, "late upload in "+space, func() bool { return embProblem(ctx, h.js, space, wantAll) == "" })
	}

	if _, err := ac.RollbackCampaign(ctx, &pb.CampaignRequest{}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	n := load.answeredBy()[StarterSpaceName]
	waitFor(t, 30*time.Second, "Recommend answered by "+StarterSpaceName+" again", func() bool {
		return load.answeredBy()[StarterSpaceName] > n+3
	})
	h.e.waitVectors(t, int64(len(wantAll)), 30*time.Second)
	if p := recommendProblems(ctx, h.e, "", wantAll); len(p) > 0 {
		t.Errorf("after rollback: %v", p[:min(5, len(p))])
	}

	// Retiring: refused for the active space and the open campaign's
	// space; an idle space goes at once; after promoting again, the old
	// space goes with its embeddings and features, and the campaign closes.
	_, err = ac.RetireSpace(ctx, &pb.RetireSpaceRequest{Name: StarterSpaceName})
	wantCode(t, "retire the active space", err, codes.FailedPrecondition)
	_, err = ac.RetireSpace(ctx, &pb.RetireSpaceRequest{Name: campaignSpace})
	wantCode(t, "retire the campaign's space", err, codes.FailedPrecondition)
	if _, err := ac.RetireSpace(ctx, &pb.RetireSpaceRequest{Name: "starter-v3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.PromoteCampaign(ctx, &pb.PromoteCampaignRequest{}); err != nil {
		t.Fatalf("promote again: %v", err)
	}
	r, err := ac.RetireSpace(ctx, &pb.RetireSpaceRequest{Name: StarterSpaceName})
	if err != nil {
		t.Fatalf("retire the old space after promotion: %v", err)
	}
	t.Logf("retired %s: %d embeddings, %d features, %d snapshot objects", StarterSpaceName, r.GetEmbeddings(), r.GetFeatures(), r.GetSnapshots())
	if r.GetEmbeddings() != uint64(len(wantAll)) {
		t.Errorf("retired %d embeddings, want %d", r.GetEmbeddings(), len(wantAll))
	}
	if _, err := ac.GetCampaign(ctx, &pb.CampaignRequest{}); status.Code(err) != codes.NotFound {
		t.Errorf("campaign after its old space was retired: %v, want NotFound (closed)", err)
	}
	waitFor(t, 10*time.Second, "ranker drops the retired spaces", func() bool {
		stats := h.e.srv.Ranker().Stats()
		var names []string
		for _, sp := range stats.Spaces {
			names = append(names, sp.Name)
		}
		return slices.Equal(names, []string{campaignSpace})
	})
	load.finish(t)
}

// putAll uploads products straight into the bucket, four at a time.
func putAll(t *testing.T, h *faultHarness, products []testProduct) {
	t.Helper()
	sem := make(chan struct{}, 4)
	errs := make(chan error, len(products))
	for _, tp := range products {
		objs := productObjects(t, tp)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- putObjects(context.Background(), h.direct, objs)
		}()
	}
	for range products {
		if err := <-errs; err != nil {
			t.Fatal(fmt.Errorf("upload: %w", err))
		}
	}
}
