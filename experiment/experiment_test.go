package experiment

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/topology"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestParse(t *testing.T) {
	good := `{"name": "e1", "arms": [{"name": "a", "share": 0.5, "scorer": "hand", "mmr_lambda": 0.7},
		{"name": "b", "share": 0.5, "scorer": "3", "space": "s2", "lexical_weight": 0.2}]}`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if rev, _ := c.Arms[1].ModelRevision(); rev != 3 || c.Arms[1].Space != "s2" || *c.Arms[0].MMRLambda != 0.7 || *c.Arms[1].LexicalWeight != 0.2 {
		t.Fatalf("parsed %+v", c)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"no name", `{"arms": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}`, "no name"},
		{"one arm", `{"name": "e", "arms": [{"name": "a", "share": 1}]}`, "1 arms, want 2"},
		{"shares", `{"name": "e", "arms": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}]}`, "sum to"},
		{"same names", `{"name": "e", "arms": [{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}]}`, "two arms named"},
		{"scorer", `{"name": "e", "arms": [{"name": "a", "share": 0.5, "scorer": "best"}, {"name": "b", "share": 0.5}]}`, `scorer "best"`},
		{"lambda", `{"name": "e", "arms": [{"name": "a", "share": 0.5, "mmr_lambda": 2}, {"name": "b", "share": 0.5}]}`, "mmr_lambda 2"},
		{"unknown field", `{"name": "e", "split": 0.5, "arms": []}`, "split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestAssign: stable per unit, close to the shares, and reshuffled by the
// experiment's name.
func TestAssign(t *testing.T) {
	c := Config{Name: "e", Arms: []Arm{{Name: "a", Share: 0.2}, {Name: "b", Share: 0.8}}}
	other := Config{Name: "f", Arms: c.Arms}
	const n = 20000
	inB, moved := 0, 0
	for i := range n {
		u := "user-" + string(rune('a'+i%26)) + strings.Repeat("x", i%7) + string(rune(i))
		a := c.Assign(u)
		if a != c.Assign(u) {
			t.Fatalf("unit %q assigned twice differently", u)
		}
		inB += a
		if other.Assign(u) != a {
			moved++
		}
	}
	if share := float64(inB) / n; !near(share, 0.8, 0.015) {
		t.Fatalf("arm b holds %.3f of the units, want 0.8", share)
	}
	if moved < n/5 {
		t.Fatalf("another experiment's name moved only %d of %d units", moved, n)
	}
}

func TestIntervals(t *testing.T) {
	w := Wilson(5, 10)
	if !near(w.Rate, 0.5, 1e-12) || !near(w.Low, 0.2366, 1e-4) || !near(w.High, 0.7634, 1e-4) {
		t.Fatalf("Wilson(5, 10) = %+v", w)
	}
	if w := Wilson(0, 20); w.Low != 0 || !near(w.High, 0.1611, 1e-4) {
		t.Fatalf("Wilson(0, 20) = %+v", w)
	}
	if w := Wilson(0, 0); w != (Interval{}) {
		t.Fatalf("Wilson(0, 0) = %+v", w)
	}
	d := TwoProportion(50, 100, 60, 100)
	if !near(d.Diff, 0.1, 1e-12) || !near(d.Low, -0.0372, 1e-4) || !near(d.High, 0.2372, 1e-4) || !near(d.Z, 1.4213, 1e-4) || !near(d.P, 0.1552, 1e-4) {
		t.Fatalf("TwoProportion = %+v", d)
	}
}

// TestTally: feedback is attributed by request id, else by the user's
// arm; responses count as clicked and converted once.
func TestTally(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	imp := func(req, user, arm string, products ...string) topology.Impression {
		i := topology.Impression{RequestID: req, UserID: user, Experiment: "e", Arm: arm, Time: at}
		for _, p := range products {
			i.Results = append(i.Results, topology.ImpressionResult{ProductID: p})
		}
		return i
	}
	fb := func(req, user, product, kind string) topology.Feedback {
		return topology.Feedback{RequestID: req, UserID: user, ProductID: product, Kind: kind, Time: at}
	}
	tl := NewTally("", time.Time{})
	for _, i := range []topology.Impression{imp("r1", "u1", "a", "p1", "p2"), imp("r2", "u1", "a", "p3"), imp("r3", "u2", "b", "p1"),
		imp("r1", "u1", "a", "p1"), imp("x", "u3", "", "p1")} {
		if err := tl.AddImpression(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tl.AddImpression(topology.Impression{RequestID: "o", Experiment: "other", Arm: "a", Time: at}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []topology.Feedback{fb("r1", "u1", "p1", "click"), fb("r1", "u1", "p2", "click"), fb("r1", "u1", "p1", "purchase"),
		fb("r2", "u1", "p3", "view"), fb("", "u2", "p9", "cart"), fb("r3", "u2", "p1", "cart"), fb("", "u3", "p1", "click")} {
		tl.AddFeedback(f)
	}
	r := tl.Report("b", "a")
	if r.Experiment != "e" || len(r.Arms) != 2 || r.Arms[0].Arm != "b" {
		t.Fatalf("report %+v", r)
	}
	b, a := r.Arms[0], r.Arms[1]
	if a.Users != 1 || a.Impressions != 2 || a.Clicks != 2 || a.Purchases != 1 || a.Views != 1 || a.Clicked != 1 || a.Converted != 1 {
		t.Errorf("arm a %+v", a)
	}
	if b.Users != 1 || b.Impressions != 1 || b.Carts != 2 || b.Clicked != 1 || b.Converted != 0 {
		t.Errorf("arm b %+v", b)
	}
	if r.Unattributed != 1 {
		t.Errorf("unattributed %d, want 1", r.Unattributed)
	}
}
