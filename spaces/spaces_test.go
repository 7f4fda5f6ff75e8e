package spaces

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/topology"
)

func testSpace() Space {
	return Space{Name: "s1", Blocks: []Block{
		{Modality: "text", Model: "t@1", Dim: 3, Weight: 1},
		{Modality: "image", Model: "i@1", Dim: 2, Weight: 4},
	}}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestJoinIsAWeightedSumOfBlockCosines(t *testing.T) {
	sp := testSpace()
	a, _, err := sp.Join(map[string][]float32{"text": {1, 2, 2}, "image": {3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := sp.Join(map[string][]float32{"text": {2, 1, 2}, "image": {4, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if n := dot(a, a); math.Abs(n-1) > 1e-6 {
		t.Fatalf("joint vector norm² %v, want 1", n)
	}
	cosText := (2.0 + 2 + 4) / 9.0
	cosImage := (12.0 + 12) / 25.0
	// Both vectors have the same block norms (sqrt(1+4)), so the cosine is
	// (1·cosText + 4·cosImage) / 5.
	want := (1*cosText + 4*cosImage) / 5
	if got := dot(a, b); math.Abs(got-want) > 1e-6 {
		t.Fatalf("cosine %v, want weighted %v", got, want)
	}
	parts := sp.BlockDots(a, b)
	if sum := float64(parts["text"] + parts["image"]); math.Abs(sum-dot(a, b)) > 1e-6 {
		t.Fatalf("block dots sum to %v, dot is %v", sum, dot(a, b))
	}
	if math.Abs(float64(parts["image"])-4*cosImage/5) > 1e-6 {
		t.Fatalf("image share %v, want %v", parts["image"], 4*cosImage/5)
	}
}

func TestJoinMissingBlockIsZero(t *testing.T) {
	sp := testSpace()
	v, layout, err := sp.Join(map[string][]float32{"image": {0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if v[i] != 0 {
			t.Fatalf("text block not zero: %v", v)
		}
	}
	if layout[0].Present || !layout[1].Present || layout[1].Offset != 3 {
		t.Fatalf("layout %+v", layout)
	}
}

func TestJoinRejects(t *testing.T) {
	sp := testSpace()
	for _, tc := range []struct {
		name  string
		parts map[string][]float32
		is    error
	}{
		{"no inputs", map[string][]float32{}, ErrNoInputs},
		{"wrong dim", map[string][]float32{"text": {1, 2}}, nil},
		{"zero vector", map[string][]float32{"text": {0, 0, 0}}, nil},
		{"NaN", map[string][]float32{"text": {float32(math.NaN()), 1, 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := sp.Join(tc.parts)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Space
		ok   bool
	}{
		{"good", testSpace(), true},
		{"bad name", Space{Name: "Bad Name", Blocks: testSpace().Blocks}, false},
		{"no blocks", Space{Name: "x"}, false},
		{"duplicate modality", Space{Name: "x", Blocks: []Block{{Modality: "text", Model: "a@1", Dim: 1, Weight: 1}, {Modality: "text", Model: "b@1", Dim: 1, Weight: 1}}}, false},
		{"zero weight", Space{Name: "x", Blocks: []Block{{Modality: "text", Model: "a@1", Dim: 1}}}, false},
		{"no model", Space{Name: "x", Blocks: []Block{{Modality: "text", Dim: 1, Weight: 1}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestStoreAliasCompareAndSwap(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), topology.Modalities); err != nil {
		t.Fatal(err)
	}
	st, err := NewStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testSpace(), testSpace()
	b.Name = "s2"
	for _, s := range []Space{a, b} {
		if err := st.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Put(ctx, a); err != nil {
		t.Fatalf("re-putting the same definition: %v", err)
	}
	changed := a
	changed.Blocks = changed.Blocks[:1]
	if err := st.Put(ctx, changed); err == nil {
		t.Fatal("a space changed under the same name was accepted")
	}
	if _, _, err := st.Active(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset alias: %v", err)
	}
	if err := st.SetActive(ctx, "s1", 0); err != nil {
		t.Fatal(err)
	}
	name, rev, err := st.Active(ctx)
	if err != nil || name != "s1" {
		t.Fatalf("active %q %v", name, err)
	}
	if err := st.SetActive(ctx, "s2", rev+5); err == nil {
		t.Fatal("alias moved with a stale revision")
	}
	if err := st.SetActive(ctx, "s2", rev); err != nil {
		t.Fatal(err)
	}
	if err := st.SetActive(ctx, "missing", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alias to unknown space: %v", err)
	}
	all, err := st.List(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %v", all, err)
	}
}
