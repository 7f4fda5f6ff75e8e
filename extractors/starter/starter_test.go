package starter_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/starter"
)

func TestBuildIsDeterministicAndValid(t *testing.T) {
	for _, mod := range starter.Modalities {
		t.Run(mod, func(t *testing.T) {
			a, ma, err := starter.Build(mod)
			if err != nil {
				t.Fatal(err)
			}
			b, mb, err := starter.Build(mod)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatal("two builds differ")
			}
			if len(a) > 30<<20 {
				t.Fatalf("model.onnx is %d bytes, over 30 MiB", len(a))
			}
			j, err := ma.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := manifest.Parse(j)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != mb.ID() || back.Modality != mod || back.Dim != ma.Dim {
				t.Fatalf("manifest round trip: %+v", back)
			}
		})
	}
	if _, _, err := starter.Build("smell"); !errors.Is(err, starter.ErrUnknownModality) {
		t.Fatalf("unknown modality: err = %v", err)
	}
}

func TestHashTokenizer(t *testing.T) {
	tok, err := starter.NewHashTokenizer(1<<10, 64)
	if err != nil {
		t.Fatal(err)
	}
	same := []struct{ a, b string }{
		{"Café Crème", "cafe creme"},
		{"RED  shoes!!", "red shoes"},
		{"ﬁne", "fine"}, // NFKD expands the ligature
	}
	for _, c := range same {
		ia, wa, err := tok.Features(c.a)
		if err != nil {
			t.Fatal(err)
		}
		ib, wb, err := tok.Features(c.b)
		if err != nil {
			t.Fatal(err)
		}
		if len(ia) != len(ib) {
			t.Fatalf("%q and %q: %d vs %d features", c.a, c.b, len(ia), len(ib))
		}
		for i := range ia {
			if ia[i] != ib[i] || wa[i] != wb[i] {
				t.Fatalf("%q and %q differ at feature %d", c.a, c.b, i)
			}
		}
	}
	ids, ws, err := tok.Features("shoe shoe shoe shoe")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if id < 0 || id >= 1<<10 {
			t.Fatalf("id %d outside the table", id)
		}
		if i > 0 && ids[i-1] >= id {
			t.Fatal("ids not strictly ascending")
		}
		if ws[i] <= 0 || ws[i] > 1+float32(math.Log(4))+1e-5 {
			t.Fatalf("weight %v outside (0, 1+ln 4]", ws[i])
		}
	}
	bad := []struct {
		name, text string
	}{{"invalid utf-8", "ab\xffcd"}, {"no words", "  ?!  ..."}, {"empty", ""}}
	for _, c := range bad {
		if _, _, err := tok.Features(c.text); !errors.Is(err, starter.ErrBadText) {
			t.Errorf("%s: err = %v, want ErrBadText", c.name, err)
		}
	}
	small, err := starter.NewHashTokenizer(1<<16, 5)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err = small.Features("a long product description with many different words")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 5 {
		t.Fatalf("max length 5 kept %d features", len(ids))
	}
	for _, c := range []struct{ buckets, maxLen int }{{1000, 5}, {0, 5}, {1024, 0}} {
		if _, err := starter.NewHashTokenizer(c.buckets, c.maxLen); err == nil {
			t.Errorf("NewHashTokenizer(%d, %d): no error", c.buckets, c.maxLen)
		}
	}
}

func session(t *testing.T, mod string) (*ort.Session, manifest.Manifest) {
	t.Helper()
	rt, err := ort.Acquire()
	if err != nil {
		t.Fatalf("ONNX Runtime is required (run `make setup`): %v", err)
	}
	t.Cleanup(func() { _ = rt.Release() })
	model, man, err := starter.Build(mod)
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(model, man.InputNames(), []string{man.Outputs[0].Name}, ort.WithIntraOpThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, man
}

func cos(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// TestTextGraphIsWeightedSum: every table row has the same norm, so the
// embedding of features {a, b} with equal weights is the normalised sum of
// their single-feature embeddings; zero-weight padding changes nothing.
func TestTextGraphIsWeightedSum(t *testing.T) {
	s, man := session(t, "text")
	ctx := context.Background()
	run := func(ids []int64, w []float32, b, l int64) [][]float32 {
		out, err := s.Run(ctx, ort.Int64Tensor(ids, b, l), ort.Float32Tensor(w, b, l))
		if err != nil {
			t.Fatal(err)
		}
		res := make([][]float32, b)
		for i := range res {
			res[i] = out[0].Float32[i*man.Dim : (i+1)*man.Dim]
		}
		return res
	}
	single := run([]int64{7, 65000}, []float32{1, 1}, 2, 1)
	pair := run([]int64{7, 65000, 0, 0, 7, 65000}, []float32{1, 1, 0, 0, 2, 2}, 3, 2)
	sum := make([]float32, man.Dim)
	for i := range sum {
		sum[i] = single[0][i] + single[1][i]
	}
	for row, v := range [][]float32{pair[0], pair[2]} {
		if c := cos(v, sum); c < 0.99999 {
			t.Fatalf("row %d: cosine to the sum of parts %v", row, c)
		}
	}
	if c := cos(single[0], single[1]); math.Abs(c) > 0.3 {
		t.Fatalf("two random rows have cosine %v", c)
	}
}

// TestAudioGraphIgnoresGain: log-mel statistics are centred, so scaling the
// waveform leaves the embedding unchanged.
func TestAudioGraphIgnoresGain(t *testing.T) {
	s, man := session(t, "audio")
	n := man.Preprocess.Audio.WindowSamples()
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 2*n)
	for i := 0; i < n; i++ {
		x := float32(0.3*math.Sin(2*math.Pi*440*float64(i)/16000) + 0.05*r.NormFloat64())
		w[i], w[n+i] = x, 0.2*x
	}
	out, err := s.Run(context.Background(), ort.Float32Tensor(w, 2, int64(n)))
	if err != nil {
		t.Fatal(err)
	}
	a, b := out[0].Float32[:man.Dim], out[0].Float32[man.Dim:]
	if c := cos(a, b); c < 0.999 {
		t.Fatalf("gain 0.2 changed the embedding: cosine %v", c)
	}
}

// TestImageGraphBatchIndependent: an image's embedding does not depend on
// the rest of its batch, and different pictures differ.
func TestImageGraphBatchIndependent(t *testing.T) {
	s, man := session(t, "image")
	sz := man.Preprocess.Image.Size
	per := 3 * sz * sz
	r := rand.New(rand.NewPCG(3, 4))
	img := func() []float32 {
		v := make([]float32, per)
		for i := range v {
			v[i] = r.Float32()
		}
		return v
	}
	a, b := img(), img()
	one, err := s.Run(context.Background(), ort.Float32Tensor(a, 1, 3, int64(sz), int64(sz)))
	if err != nil {
		t.Fatal(err)
	}
	two, err := s.Run(context.Background(), ort.Float32Tensor(append(append([]float32{}, b...), a...), 2, 3, int64(sz), int64(sz)))
	if err != nil {
		t.Fatal(err)
	}
	if c := cos(one[0].Float32, two[0].Float32[man.Dim:]); c < 0.99999 {
		t.Fatalf("batch changed the embedding: cosine %v", c)
	}
	if c := cos(two[0].Float32[:man.Dim], two[0].Float32[man.Dim:]); c > 0.999 {
		t.Fatalf("two random pictures embed identically: %v", c)
	}
}

func TestTinyBERTArguments(t *testing.T) {
	if _, err := starter.TinyBERT(3, 8, 8, 1); err == nil {
		t.Fatal("vocabulary of 3: no error")
	}
	a, err := starter.TinyBERT(50, 8, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := starter.TinyBERT(50, 8, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("TinyBERT is not deterministic")
	}
}
