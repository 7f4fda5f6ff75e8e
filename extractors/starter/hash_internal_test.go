package starter

import (
	"cmp"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestHashIsFNV1a: the inlined hash equals hash/fnv's FNV-1a over
// seed + kind + ":" + feature, the definition starter-text@1 is built on.
func TestHashIsFNV1a(t *testing.T) {
	tok, err := NewHashTokenizer(1<<16, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind byte
		s    string
	}{{'w', "shoe"}, {'c', "<sh"}, {'w', ""}, {'c', "é>x"}} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(hashSeed + string(c.kind) + ":" + c.s))
		if want := int64(h.Sum64() & (1<<16 - 1)); tok.id(c.kind, c.s) != want {
			t.Errorf("id(%c, %q) = %d, want %d", c.kind, c.s, tok.id(c.kind, c.s), want)
		}
	}
}

// referenceFeatures is the first, map-based definition of Features that
// starter-text@1 was built with; the fast path must match it exactly.
func referenceFeatures(t *HashTokenizer, text string) ([]int64, []float32, error) {
	n, err := Normalize(text)
	if err != nil {
		return nil, nil, err
	}
	words := Words(n)
	acc := map[int64]float64{}
	for _, w := range words {
		ww := wordWeight
		if stopWords[w] {
			ww = stopWordWeight
		}
		acc[t.id('w', w)] += ww
		r := []rune("<" + w + ">")
		gw := ww / math.Sqrt(float64(len(r)-2))
		for i := 0; i+3 <= len(r); i++ {
			acc[t.id('c', string(r[i:i+3]))] += gw
		}
	}
	feats := make([]feat, 0, len(acc))
	for id, w := range acc {
		if w > 1 {
			w = 1 + math.Log(w)
		}
		feats = append(feats, feat{id, w})
	}
	if len(feats) > t.maxLen {
		slices.SortFunc(feats, func(a, b feat) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		feats = feats[:t.maxLen]
	}
	slices.SortFunc(feats, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
	ids := make([]int64, len(feats))
	ws := make([]float32, len(feats))
	for i, f := range feats {
		ids[i], ws[i] = f.id, float32(f.w)
	}
	return ids, ws, nil
}

// TestFeaturesMatchReference: random ASCII and non-ASCII texts give the
// same ids and bit-identical weights as the reference definition, with
// table sizes and length limits that do and do not truncate.
func TestFeaturesMatchReference(t *testing.T) {
	pieces := []string{"shoe", "Shoe", "SHOES", "the", "a", "and", "x", "42", "usb-c", "café", "Crème",
		"brûlée", "ﬁne", "straße", "日本", "ÅNGSTRÖM", "naïve", " ", "  ", ",", "!", "\t", "\n", "é", "ß", "ǅ", "-", "..."}
	r := rand.New(rand.NewPCG(1, 2))
	for _, cfg := range []struct{ buckets, maxLen int }{{1 << 16, 512}, {1 << 8, 512}, {1 << 16, 7}} {
		tok, err := NewHashTokenizer(cfg.buckets, cfg.maxLen)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 2000; n++ {
			var b strings.Builder
			for k := r.IntN(30); k >= 0; k-- {
				b.WriteString(pieces[r.IntN(len(pieces))])
				if r.IntN(3) > 0 {
					b.WriteByte(' ')
				}
			}
			text := b.String()
			wantIDs, wantWs, wantErr := referenceFeatures(tok, text)
			ids, ws, err := tok.Features(text)
			if wantErr != nil || len(wantIDs) == 0 {
				if err == nil {
					t.Fatalf("%q: no error, reference has none or no words", text)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%q: %v", text, err)
			}
			if !slices.Equal(ids, wantIDs) || !slices.Equal(ws, wantWs) {
				t.Fatalf("%q (buckets %d, max %d):\n got %v %v\nwant %v %v", text, cfg.buckets, cfg.maxLen, ids, ws, wantIDs, wantWs)
			}
		}
	}
}

// BenchmarkFeaturesVsReference: the fast path beside the reference
// definition on one product title, run side by side.
func BenchmarkFeaturesVsReference(b *testing.B) {
	tok, err := NewHashTokenizer(TextBuckets, TextMaxLength)
	if err != nil {
		b.Fatal(err)
	}
	const title = "Wireless noise-cancelling headphones, black, with USB-C charging case and travel bag"
	b.Run("features", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := tok.Features(title); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := referenceFeatures(tok, title); err != nil {
				b.Fatal(err)
			}
		}
	})
}
