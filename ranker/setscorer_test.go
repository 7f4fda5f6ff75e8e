package ranker_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
)

// invertedScorer ranks the least similar first.
type invertedScorer struct{}

func (invertedScorer) Score(f ranker.Features) float32 { return -f.Cosine }

// TestSetScorerUnderLoad: swapping the scorer while requests run fails
// none of them, every response is ranked by one scorer (the old or the
// new), and requests after the swap use the new one; nil restores the
// configured scorer.
func TestSetScorerUnderLoad(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(5, 60, 4)
	e.load(testSpace, ps)
	enc, txt, _ := newTestEncoders()
	txt.set("query", ps[0].parts["text"])
	s := e.serve(enc)
	s.waitReady(t, "")
	req := &omnirankv1.RecommendRequest{QueryText: "query"}
	hand, err := s.rank.Recommend(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	s.r.SetScorer(invertedScorer{})
	inv, err := s.rank.Recommend(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(ids(hand), ids(inv)) || inv.Results[0].Id == hand.Results[0].Id {
		t.Fatalf("the swapped scorer did not change the ranking: %v vs %v", ids(hand), ids(inv))
	}
	s.r.SetScorer(nil)

	var failed, mixed, seenHand, seenInv atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := s.rank.Recommend(t.Context(), req)
				switch {
				case err != nil:
					failed.Add(1)
				case slices.Equal(ids(res), ids(hand)):
					seenHand.Add(1)
				case slices.Equal(ids(res), ids(inv)):
					seenInv.Add(1)
				default:
					mixed.Add(1)
				}
			}
		})
	}
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; seenHand.Load()+seenInv.Load()+mixed.Load()+failed.Load() < 300 && time.Now().Before(deadline); i++ {
		if i%2 == 0 {
			s.r.SetScorer(invertedScorer{})
		} else {
			s.r.SetScorer(nil)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	s.r.SetScorer(nil)
	t.Logf("during swaps: %d hand, %d inverted, %d mixed, %d failed", seenHand.Load(), seenInv.Load(), mixed.Load(), failed.Load())
	if seenHand.Load() == 0 || seenInv.Load() == 0 {
		t.Fatalf("the swaps did not interleave with requests")
	}
	if failed.Load() != 0 || mixed.Load() != 0 {
		t.Fatalf("%d failed and %d mixed rankings during the swaps", failed.Load(), mixed.Load())
	}
	if after, err := s.rank.Recommend(t.Context(), req); err != nil || !slices.Equal(ids(after), ids(hand)) {
		t.Fatalf("after SetScorer(nil): %v, %v; want the hand ranking %v", ids(after), err, ids(hand))
	}
}
