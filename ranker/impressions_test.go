package ranker_test

import (
	"slices"
	"testing"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// impressions decodes every message of the IMPRESSIONS stream.
func (e *env) impressions() []topology.Impression {
	return scanJSON[topology.Impression](e, topology.StreamImpressions, "impressions.>")
}

// TestImpressions: a Recommend call yields one impression with the shown
// ids, their positions (the second page continuing the first) and the
// features the scorer used; feedback naming its request id is stored with
// it; with sampling off the response still has a request id and nothing
// is logged; forgetting the user purges their impressions.
func TestImpressions(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	e.load(testSpace, catalogue(5, 40, 4))
	s := e.serve(nil, ranker.WithImpressions(1))
	off := e.serve(nil)
	s.waitReady(t, "")
	off.waitReady(t, "")
	ctx := t.Context()

	req := &omnirankv1.RecommendRequest{PositiveIds: []string{"p001"}, UserId: "shopper", K: 4}
	res, err := s.rank.Recommend(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetRequestId()) != 32 || len(res.GetResults()) != 4 {
		t.Fatalf("response: request id %q, %d results", res.GetRequestId(), len(res.GetResults()))
	}
	eventually(t, "impression published", func() bool { return s.r.Stats().ImpressionsPublished == 1 })
	imps := e.impressions()
	if len(imps) != 1 {
		t.Fatalf("%d impressions, want 1", len(imps))
	}
	imp := imps[0]
	if imp.RequestID != res.GetRequestId() || imp.UserID != "shopper" || imp.Query != "like+user" || imp.Space != testSpace.Name || imp.Offset != 0 {
		t.Fatalf("impression header %+v", imp)
	}
	var shown []string
	for i, r := range imp.Results {
		shown = append(shown, r.ProductID)
		if r.Position != i+1 || r.Score != res.GetResults()[i].GetScore() {
			t.Fatalf("result %d: position %d score %v, want %d %v", i, r.Position, r.Score, i+1, res.GetResults()[i].GetScore())
		}
		if _, ok := r.Features["cosine"]; !ok || len(r.Features) < 6 {
			t.Fatalf("result %d features %v", i, r.Features)
		}
		var blocks float32
		for _, blk := range testSpace.Blocks {
			blocks += r.Features["block:"+blk.Modality]
		}
		if !approx(blocks, r.Features["cosine"]) {
			t.Fatalf("result %d: blocks sum %v, cosine %v", i, blocks, r.Features["cosine"])
		}
	}
	if !slices.Equal(shown, ids(res)) {
		t.Fatalf("impression shows %v, response %v", shown, ids(res))
	}

	// The next page: positions continue.
	page2, err := s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{PositiveIds: []string{"p001"}, UserId: "shopper", K: 4, PageToken: res.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "second impression", func() bool { return s.r.Stats().ImpressionsPublished == 2 })
	for _, imp := range e.impressions() {
		if imp.RequestID == page2.GetRequestId() && (imp.Offset != 4 || imp.Results[0].Position != 5) {
			t.Fatalf("second page impression %+v", imp)
		}
	}

	// Feedback carries the request id into the stream.
	s.record(t, 1, &omnirankv1.FeedbackEvent{UserId: "shopper", ProductId: shown[1], Kind: "click", TimestampMs: baseTime.UnixMilli(), RequestId: res.GetRequestId()})
	var joined bool
	for _, fb := range e.streamEvents() {
		joined = joined || (fb.RequestID == res.GetRequestId() && fb.ProductID == shown[1])
	}
	if !joined {
		t.Fatal("feedback stored without its request id")
	}

	// Sampling off: a request id, no impression.
	res3, err := off.rank.Recommend(ctx, req)
	if err != nil || res3.GetRequestId() == "" || res3.GetRequestId() == res.GetRequestId() {
		t.Fatalf("unsampled response: %q %v", res3.GetRequestId(), err)
	}
	if n := len(e.impressions()); n != 2 {
		t.Fatalf("%d impressions after an unsampled request, want 2", n)
	}

	// Forgetting the user purges their impressions.
	fr, err := ranker.ForgetUser(ctx, e.js, "shopper", baseTime)
	if err != nil || fr.Impressions != 2 {
		t.Fatalf("forget: %+v %v, want 2 impressions purged", fr, err)
	}
	if n := len(e.impressions()); n != 0 {
		t.Fatalf("%d impressions left after forget", n)
	}
}
