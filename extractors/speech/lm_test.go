package speech

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/internal/option"
)

func needDict(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(DefaultDictionary); err != nil {
		t.Skipf("no base dictionary: %v (apt-get install pocketsphinx-en-us)", err)
	}
}

// fakeG2P answers from a table and fails for other words.
type fakeG2P map[string][]string

func (f fakeG2P) Pronounce(w string) ([]string, error) {
	if p, ok := f[w]; ok {
		return p, nil
	}
	return nil, errors.New("fake g2p: unknown word")
}

func dictEntries(lm *LanguageModel) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(lm.Dictionary())), "\n") {
		w, p, _ := strings.Cut(line, " ")
		out[w] = p
	}
	return out
}

func TestLanguageModelARPA(t *testing.T) {
	needDict(t)
	for _, order := range []int{1, 2, 3, 4} {
		lm, err := BuildLanguageModel(titles, WithOrder(order))
		if err != nil {
			t.Fatal(err)
		}
		a, err := parseARPA(lm.ARPA())
		if err != nil {
			t.Fatalf("order %d: %v", order, err)
		}
		if len(a.Counts) != order || !slices.Equal(a.Counts, lm.Counts()) {
			t.Fatalf("order %d: ARPA counts %v, model says %v", order, a.Counts, lm.Counts())
		}
		// Every history's distribution over the vocabulary sums to one
		// under the back-off rule.
		var vocab []string
		for g := range a.Prob {
			if !strings.Contains(g, " ") && g != "<s>" {
				vocab = append(vocab, g)
			}
		}
		histories := [][]string{{}}
		for g := range a.Backoff {
			histories = append(histories, strings.Fields(g))
		}
		for _, h := range histories {
			var sum float64
			for _, w := range vocab {
				sum += math.Pow(10, a.logProb(h, w))
			}
			if math.Abs(sum-1) > 1e-4 {
				t.Fatalf("order %d: P(·|%q) sums to %v", order, h, sum)
			}
		}
		// A title's own continuation is more likely than a jumble.
		if order >= 2 {
			p1 := a.logProb([]string{"velvet"}, "sofa")
			p2 := a.logProb([]string{"velvet"}, "guitar")
			if p1 <= p2 {
				t.Fatalf("P(sofa|velvet) %v <= P(guitar|velvet) %v", p1, p2)
			}
		}
	}
}

func TestParseARPARejects(t *testing.T) {
	good := "\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-0.3 a -0.1\n-0.3 b\n\n\\2-grams:\n-0.1 a b\n\n\\end\\\n"
	if _, err := parseARPA([]byte(good)); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"count mismatch":   strings.Replace(good, "ngram 1=2", "ngram 1=3", 1),
		"positive prob":    strings.Replace(good, "-0.3 b", "0.3 b", 1),
		"missing sub-gram": strings.Replace(good, "-0.1 a b", "-0.1 a c", 1),
		"no end":           strings.Replace(good, "\\end\\", "", 1),
		"bad number":       strings.Replace(good, "-0.3 b", "x b", 1),
		"backoff on top":   strings.Replace(good, "-0.1 a b", "-0.1 a b -0.2", 1),
		"undeclared order": strings.Replace(good, "\\2-grams:", "\\3-grams:", 1),
	}
	for name, text := range cases {
		if _, err := parseARPA([]byte(text)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestLanguageModelVersionStable(t *testing.T) {
	needDict(t)
	a, err := BuildLanguageModel(titles)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(titles)
	slices.Reverse(shuffled)
	b, err := BuildLanguageModel(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != b.Version() || string(a.ARPA()) != string(b.ARPA()) {
		t.Fatalf("same corpus, versions %s and %s", a.Version(), b.Version())
	}
	c, err := BuildLanguageModel(append(slices.Clone(titles), "Copper kettle"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() == a.Version() {
		t.Fatal("a new title left the version unchanged")
	}
	if !strings.HasPrefix(a.Version(), "lm-") {
		t.Fatalf("version %q", a.Version())
	}
}

func TestLanguageModelPronunciations(t *testing.T) {
	needDict(t)
	corpus := []string{"Zyxq blender", "Qwvx kettle's lid", "Chess's rules", "Live music", "Plorf lamp", "☃ 🎸"}
	g := fakeG2P{"zyxq": {"Z", "IH1", "K", "S"}, "plorf": {"P", "L", "QQ"}}
	lm, err := BuildLanguageModel(corpus, WithG2P(g), WithExtraPhrases(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := dictEntries(lm)
	want := map[string]string{
		"zyxq":     "Z IH K S",                            // G2P, stress stripped
		"qwvx":     "K Y UW D AH B AH L Y UW V IY EH K S", // G2P failed: spelled
		"plorf":    "P IY EH L OW AA R EH F",              // G2P gave a phone outside the set: spelled
		"kettle's": "K EH T AH L Z",                       // possessive of a dictionary word
		"chess's":  "CH EH S IH Z",
		"blender":  "B L EH N D ER", // dictionary
		"live":     "L AY V",
		"live(2)":  "L IH V", // every variant
	}
	for w, p := range want {
		if d[w] != p {
			t.Errorf("dictionary %q = %q, want %q", w, d[w], p)
		}
	}
	if len(d) != len(want)+4 { // and lid, music, lamp, rules; no stems (chess, kettle)
		t.Errorf("dictionary holds %d entries: %v", len(d), d)
	}
	if oov := lm.OOV(); !slices.Equal(oov, []string{"chess's", "kettle's", "plorf", "qwvx", "zyxq"}) {
		t.Errorf("OOV = %v", oov)
	}
	if lm.Words() != len(d)-1 {
		t.Errorf("Words() = %d for %d dictionary entries with one variant", lm.Words(), len(d))
	}
	a, err := parseARPA(lm.ARPA())
	if err != nil {
		t.Fatal(err)
	}
	for w := range d {
		if base := baseWord(w); a.Prob[base] == 0 {
			t.Errorf("dictionary word %q not in the ARPA unigrams", base)
		}
	}
}

func TestLanguageModelWriteLoad(t *testing.T) {
	needDict(t)
	lm, err := BuildLanguageModel(titles)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "lm")
	if err := lm.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadLanguageModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version() != lm.Version() || back.Words() != lm.Words() || !slices.Equal(back.OOV(), lm.OOV()) ||
		string(back.ARPA()) != string(lm.ARPA()) || string(back.Dictionary()) != string(lm.Dictionary()) {
		t.Fatal("loaded model differs from the written one")
	}
	// Tampered content no longer matches its version.
	if err := os.WriteFile(filepath.Join(dir, dictFile), []byte("sofa S OW F AH\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLanguageModel(dir); !errors.Is(err, ErrBadLanguageModel) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := LoadLanguageModel(t.TempDir()); !errors.Is(err, ErrBadLanguageModel) {
		t.Fatalf("empty folder: %v", err)
	}
}

func TestLanguageModelOptions(t *testing.T) {
	cases := map[string]LMOption{
		"order 0":    WithOrder(0),
		"order 6":    WithOrder(6),
		"empty dict": WithBaseDictionary(""),
	}
	for name, o := range cases {
		if _, err := BuildLanguageModel(titles, o); !errors.Is(err, option.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	needDict(t)
	if _, err := BuildLanguageModel([]string{"!!!", ""}, WithExtraPhrases(nil)); !errors.Is(err, option.ErrInvalid) {
		t.Errorf("empty corpus: %v", err)
	}
	if _, err := BuildLanguageModel(titles, WithBaseDictionary(filepath.Join(t.TempDir(), "none"))); err == nil {
		t.Error("missing dictionary accepted")
	}
}
