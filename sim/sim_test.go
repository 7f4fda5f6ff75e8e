package sim

import (
	"math/rand/v2"
	"strings"
	"testing"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
)

func TestShopperClick(t *testing.T) {
	s := Shopper{ID: "a", Category: "home", MaxPrice: 50, Modality: "image"}
	p := func(img float32, cat string, price float64) *omnirankv1.ScoredProduct {
		return &omnirankv1.ScoredProduct{Category: []string{cat}, Price: price,
			Contributions: []*omnirankv1.Contribution{{Name: "modality:image", Value: img}, {Name: "modality:text", Value: 0.9}}}
	}
	for _, tc := range []struct {
		name       string
		more, less *omnirankv1.ScoredProduct
	}{
		{"liked modality", p(0.5, "toys", 10), p(0.1, "toys", 10)},
		{"liked category", p(0.2, "home", 10), p(0.2, "toys", 10)},
		{"under the ceiling", p(0.2, "toys", 10), p(0.2, "toys", 90)},
	} {
		if !(s.Click(tc.more) > s.Click(tc.less)) {
			t.Errorf("%s: %v ≤ %v", tc.name, s.Click(tc.more), s.Click(tc.less))
		}
	}
}

func TestValidateAndLog(t *testing.T) {
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "nil ranker") {
		t.Errorf("empty config: %v", err)
	}
	a, fa := Log(5, 10, 3)
	b, fb := Log(5, 10, 3)
	if len(a) != 30 || len(fa) != len(fb) || a[7].Results[3].ProductID != b[7].Results[3].ProductID {
		t.Errorf("Log not deterministic or wrong size: %d impressions", len(a))
	}
	if got := Shoppers(rand.New(rand.NewPCG(1, 1)), 3, nil, []string{"text"}); len(got) != 3 || got[0].Modality != "text" || got[0].Category != "" {
		t.Errorf("shoppers %+v", got)
	}
}
