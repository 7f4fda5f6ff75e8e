package starter_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/wordnet"
	"github.com/omnirank/omnirank/wordnet/wordvec"
)

func TestWordVocab(t *testing.T) {
	v, err := starter.NewWordVocab(
		[]string{"box", "mouse", "run", "running_shoe", "shoe", "sofa"},
		[][2]string{{"mice", "mouse"}, {"ran", "run"}, {"running", "run"}, {"geese", "goose"}, {"shoe", "sofa"}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := starter.ParseWordVocab(v.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Lemmas(), v.Lemmas()) {
		t.Fatalf("round trip: %v", back.Lemmas())
	}
	cases := []struct {
		word string
		want string // "" = unknown
	}{
		{"sofa", "sofa"}, {"shoes", "shoe"}, {"boxes", "box"}, {"mice", "mouse"}, {"ran", "run"},
		{"running", "run"}, {"running_shoes", "running_shoe"}, {"geese", ""}, {"zorblax", ""},
		{"shoe", "shoe"}, // a word in the vocabulary is never redirected by an exception
	}
	for _, c := range cases {
		id, ok := back.ID(c.word)
		got := ""
		if ok {
			got = back.Lemmas()[id]
		}
		if got != c.want {
			t.Errorf("ID(%q) = %q, want %q", c.word, got, c.want)
		}
	}
	bad := []string{
		"",
		"w sofa\n",
		"# omnirank starter-wordnet vocabulary 1: \"w LEMMA\" lines are word ids from the hash buckets up, in order; \"x FORM LEMMA\" lines are WordNet's morphological exceptions\nw sofa\nq what\n",
		"# omnirank starter-wordnet vocabulary 1: \"w LEMMA\" lines are word ids from the hash buckets up, in order; \"x FORM LEMMA\" lines are WordNet's morphological exceptions\n",
		"# omnirank starter-wordnet vocabulary 1: \"w LEMMA\" lines are word ids from the hash buckets up, in order; \"x FORM LEMMA\" lines are WordNet's morphological exceptions\nw sofa\nw sofa\n",
		"# omnirank starter-wordnet vocabulary 1: \"w LEMMA\" lines are word ids from the hash buckets up, in order; \"x FORM LEMMA\" lines are WordNet's morphological exceptions\nw sofa\nx mice mouse\n",
	}
	for i, b := range bad {
		if _, err := starter.ParseWordVocab([]byte(b)); err == nil {
			t.Errorf("bad vocabulary %d accepted", i)
		}
	}
}

func TestWordNetTokenizer(t *testing.T) {
	v, err := starter.NewWordVocab([]string{"leather", "running_shoe", "shoe", "sofa"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const buckets = 1 << 10
	tok, err := starter.NewWordNetTokenizer(buckets, 64, v.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	hash, err := starter.NewHashTokenizer(buckets, 64)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text  string
		words []string // vocabulary words expected, ascending id
	}{
		{"Leather SOFA", []string{"leather", "sofa"}},
		{"the running shoes", []string{"running_shoe", "shoe"}},
		{"zorblax", nil},
		{"sofa sofa", []string{"sofa"}},
	}
	for _, c := range cases {
		ids, ws, err := tok.Features(c.text)
		if err != nil {
			t.Fatal(err)
		}
		hids, hws, err := hash.Features(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids[:len(hids)], hids) || !slices.Equal(ws[:len(hws)], hws) {
			t.Fatalf("%q: hashed part differs from starter-hash", c.text)
		}
		var got []string
		for i, id := range ids[len(hids):] {
			if id < buckets {
				t.Fatalf("%q: word id %d below the buckets", c.text, id)
			}
			got = append(got, v.Lemmas()[id-buckets])
			if c.text == "sofa sofa" && ws[len(hids)+i] <= 1 {
				t.Errorf("repeated word weight %v, want 1+ln 2", ws[len(hids)+i])
			}
		}
		if !slices.Equal(got, c.words) {
			t.Errorf("%q: words %v, want %v", c.text, got, c.words)
		}
		if !slices.IsSorted(ids) {
			t.Errorf("%q: ids not ascending", c.text)
		}
	}
	if _, _, err := tok.Features("?!"); !errors.Is(err, starter.ErrBadText) {
		t.Fatalf("no words: err = %v", err)
	}
	if _, err := starter.NewWordNetTokenizer(buckets, 64, []byte("garbage")); err == nil {
		t.Fatal("garbage vocabulary accepted")
	}
}

// TestBuildText2Deterministic builds starter-text@2 twice (with small
// vectors, to keep the test short; the full build takes the same path)
// and compares the bytes.
func TestBuildText2Deterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("learns word vectors twice")
	}
	cfg := starter.DefaultText2
	cfg.Vectors.Dim, cfg.Vectors.Oversample, cfg.Vectors.PowerIters = 16, 4, 1
	var sums [2][2][32]byte
	for i := range sums {
		m, err := starter.BuildText2(context.Background(), cfg)
		if errors.Is(err, wordnet.ErrMissing) {
			t.Fatalf("%v (make deps installs wordnet-base)", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Manifest.Dim != starter.TextDim+16 || m.Words < 10000 {
			t.Fatalf("dim %d, %d words", m.Manifest.Dim, m.Words)
		}
		sums[i] = [2][32]byte{sha256.Sum256(m.Model), sha256.Sum256(m.Vocab)}
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds differ: %x vs %x", sums[0], sums[1])
	}
}

func TestBuildText2WithoutWordNet(t *testing.T) {
	cfg := starter.DefaultText2
	cfg.WordNetDir = t.TempDir()
	_, err := starter.BuildText2(context.Background(), cfg)
	if !errors.Is(err, wordnet.ErrMissing) || !strings.Contains(err.Error(), "wordnet-base") {
		t.Fatalf("err = %v, want wordnet.ErrMissing naming wordnet-base", err)
	}
	bad := cfg
	bad.WordNetDir = ""
	bad.Vectors = wordvec.Config{Dim: 1}
	if _, err := starter.BuildText2(context.Background(), bad); err == nil {
		t.Fatal("invalid vector configuration accepted")
	}
}
