package extractors_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/wordnet"
)

// text2Store holds the starter models plus starter-text@2, registered
// once per test binary through Registry.EnsureText2 with smaller word
// vectors than the shipped model (64-d, one power iteration: the same
// code, a shorter build under the race detector). OMNIRANK_TEXT2_DIR may
// name a folder built by `omnirank models build-starter` (its
// starter-text-2 subfolder) to test the shipped model instead.
var text2Store struct {
	once sync.Once
	err  error
}

func text2Registry(t *testing.T) *extractors.Registry {
	t.Helper()
	reg := newRegistry(t)
	text2Store.once.Do(func() {
		if dir := os.Getenv("OMNIRANK_TEXT2_DIR"); dir != "" {
			_, text2Store.err = reg.Register(context.Background(), dir)
			return
		}
		cfg := starter.DefaultText2
		cfg.Vectors.Dim, cfg.Vectors.Oversample, cfg.Vectors.PowerIters = 64, 8, 1
		m, err := reg.EnsureText2(context.Background(), cfg)
		text2Store.err = err
		if err == nil && m.Dim != starter.TextDim+64 {
			text2Store.err = fmt.Errorf("starter-text@2 dim %d", m.Dim)
		}
	})
	if errors.Is(text2Store.err, wordnet.ErrMissing) {
		t.Fatalf("%v (make deps installs wordnet-base)", text2Store.err)
	}
	if text2Store.err != nil {
		t.Fatal(text2Store.err)
	}
	return reg
}

// TestText2Synonyms: starter-text@2, run by ONNX Runtime through the
// encoder, puts WordNet synonyms and hypernyms close, where starter-text@1
// (shared character n-grams only) cannot.
func TestText2Synonyms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds starter-text@2 (tens of seconds)")
	}
	reg := text2Registry(t)
	ctx := context.Background()
	v1, err := reg.Encoder(ctx, extractors.StarterID(extractors.Text))
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v2, err := reg.Encoder(ctx, starter.Text2ID)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v2.Dim() <= starter.TextDim {
		t.Fatalf("starter-text@2 dim %d", v2.Dim())
	}
	cosines := func(enc extractors.Encoder, a, b string) float64 {
		vs, err := enc.Encode(ctx, [][]byte{[]byte(a), []byte(b)})
		if err != nil {
			t.Fatal(err)
		}
		return dot(vs[0], vs[1]) // encoder outputs are unit length
	}
	unrelated := cosines(v2, "sofa", "banana")
	for _, p := range []struct {
		a, b string
		gain float64 // how far @2 must be above @1
	}{
		{"sofa", "couch", 0.2},
		{"footwear", "boots", 0.2},
		{"spectacles", "eyeglasses", 0.2},
		{"leather sofa", "leather couch", 0.1}, // @1 already shares "leather"
	} {
		c1, c2 := cosines(v1, p.a, p.b), cosines(v2, p.a, p.b)
		t.Logf("%q vs %q: @1 %.3f, @2 %.3f (unrelated pair @2 %.3f)", p.a, p.b, c1, c2, unrelated)
		if c2 < c1+p.gain {
			t.Errorf("%q vs %q: @2 cosine %.3f not %.1f above @1's %.3f", p.a, p.b, c2, p.gain, c1)
		}
		if c2 < unrelated+0.2 {
			t.Errorf("%q vs %q: @2 cosine %.3f not above the unrelated pair's %.3f", p.a, p.b, c2, unrelated)
		}
	}
	// Out-of-vocabulary words fall back to the hashed n-grams: a made-up
	// brand still matches itself with a typo better than another word.
	if a, b := cosines(v2, "zorblax", "zorblaxx"), cosines(v2, "zorblax", "quintesk"); a < b+0.3 {
		t.Errorf("out-of-vocabulary words: typo %.3f vs different %.3f", a, b)
	}
	if _, err := v2.Encode(ctx, [][]byte{[]byte("  ?! ")}); !errors.Is(err, extractors.ErrBadInput) {
		t.Errorf("no words: err = %v, want ErrBadInput", err)
	}
}
