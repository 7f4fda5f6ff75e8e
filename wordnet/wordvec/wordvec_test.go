package wordvec_test

import (
	"context"
	"slices"
	"testing"

	"github.com/omnirank/omnirank/wordnet"
	"github.com/omnirank/omnirank/wordnet/wordvec"
)

func TestLearnSmallVocabulary(t *testing.T) {
	db, err := wordnet.Open("")
	if err != nil {
		t.Fatalf("%v (make deps installs it)", err)
	}
	full := wordvec.Vocabulary(db, wordvec.DefaultVocab)
	if len(full) < 50000 || !slices.IsSorted(full) {
		t.Fatalf("vocabulary: %d words, sorted %v", len(full), slices.IsSorted(full))
	}
	for _, w := range []string{"sofa", "couch", "sneaker", "red", "running_shoe"} {
		if _, ok := slices.BinarySearch(full, w); !ok {
			t.Errorf("vocabulary lacks %q", w)
		}
	}
	// Every 25th word plus the pairs under test: a quick factorisation.
	pairs := []string{"sofa", "couch", "lounge", "banana", "boot", "footwear", "shoe", "sneaker", "eyeglasses", "spectacles"}
	var vocab []string
	for i, w := range full {
		if i%25 == 0 || slices.Contains(pairs, w) {
			vocab = append(vocab, w)
		}
	}
	src := wordvec.NewSource(db)
	cfg := wordvec.Default
	cfg.Dim = 32
	v, err := wordvec.Learn(context.Background(), src, vocab, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cos := func(a, b string) float64 {
		c, ok := v.Cosine(a, b)
		if !ok {
			t.Fatalf("%s or %s has no vector", a, b)
		}
		return c
	}
	unrelated := cos("sofa", "banana")
	for _, p := range [][2]string{{"sofa", "couch"}, {"spectacles", "eyeglasses"}, {"sneaker", "shoe"}, {"footwear", "boot"}} {
		if c := cos(p[0], p[1]); c < unrelated+0.3 {
			t.Errorf("%v: cosine %.3f, unrelated pair %.3f", p, c, unrelated)
		}
	}
	again, err := wordvec.Learn(context.Background(), src, vocab, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Data, again.Data) {
		t.Fatal("two runs differ")
	}
	idf := wordvec.GlossIDF(src, vocab)
	at := func(w string) float32 { i, _ := slices.BinarySearch(vocab, w); return idf[i] }
	if at("sneaker") <= at("footwear") {
		t.Errorf("IDF: sneaker %.2f not above the more common defining word footwear %.2f", at("sneaker"), at("footwear"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := wordvec.Learn(ctx, src, vocab, cfg, nil); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := wordvec.Default.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*wordvec.Config){
		func(c *wordvec.Config) { c.Dim = 1 },
		func(c *wordvec.Config) { c.PowerIters = -1 },
		func(c *wordvec.Config) { c.HyperDecay = 0 },
		func(c *wordvec.Config) { c.Gloss = -1 },
		func(c *wordvec.Config) { c.Smoothing = 0 },
		func(c *wordvec.Config) { c.SigmaPower = 2 },
	} {
		c := wordvec.Default
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
