package extractors_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
)

func TestEnsureStarterIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := extractors.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	first, err := reg.EnsureStarter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3 {
		t.Fatalf("%d starter manifests", len(first))
	}
	modelKey := filepath.Join(dir, "models", "starter-text", "1", "model.onnx")
	before, err := os.Stat(modelKey)
	if err != nil {
		t.Fatal(err)
	}
	// Make the existing copy recognisable: EnsureStarter must not rewrite it.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(modelKey, old, old); err != nil {
		t.Fatal(err)
	}
	second, err := reg.EnsureStarter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(modelKey)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(old) || after.Size() != before.Size() {
		t.Fatal("EnsureStarter rewrote a model that was present")
	}
	for i := range first {
		if first[i].ID() != second[i].ID() {
			t.Fatalf("manifest %d: %s then %s", i, first[i].ID(), second[i].ID())
		}
	}
	all, err := reg.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range all {
		ids = append(ids, m.ID())
	}
	if strings.Join(ids, ",") != "starter-audio@1,starter-image@1,starter-text@1" {
		t.Fatalf("Models = %v", ids)
	}
}

func TestEncoderLookupErrors(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	cases := []struct {
		id   string
		want error
	}{
		{"nope@1", extractors.ErrModelNotFound},
		{"starter-text", extractors.ErrInvalidOption},
		{"a/b@1", extractors.ErrInvalidOption},
		{"@1", extractors.ErrInvalidOption},
	}
	for _, c := range cases {
		if _, err := reg.Encoder(ctx, c.id); !errors.Is(err, c.want) {
			t.Errorf("Encoder(%q): err = %v, want %v", c.id, err, c.want)
		}
	}
	if _, err := reg.Default(ctx, extractors.Modality("smell")); !errors.Is(err, extractors.ErrInvalidOption) {
		t.Errorf("Default(smell): err = %v", err)
	}
}

func TestRegisterValidatesFolder(t *testing.T) {
	ctx := context.Background()
	st, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	good := tinyBERTFolder(t, "tiny", manifest.PoolMean, 16, 0)
	cases := []struct {
		name   string
		break_ func(dir string) error
	}{
		{"no manifest", func(d string) error { return os.Remove(filepath.Join(d, "manifest.json")) }},
		{"bad manifest", func(d string) error {
			return os.WriteFile(filepath.Join(d, "manifest.json"), []byte(`{"name":"tiny"}`), 0o644)
		}},
		{"no model", func(d string) error { return os.Remove(filepath.Join(d, "model.onnx")) }},
		{"no vocab", func(d string) error { return os.Remove(filepath.Join(d, "vocab.txt")) }},
		{"empty model", func(d string) error { return os.WriteFile(filepath.Join(d, "model.onnx"), nil, 0o644) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tinyBERTFolder(t, "tiny", manifest.PoolMean, 16, 0)
			if err := c.break_(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Register(ctx, dir); err == nil {
				t.Fatal("no error")
			}
		})
	}
	keys, err := st.List(ctx, "models/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("failed registrations left %v", keys)
	}
	man, err := reg.Register(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	keys, err = st.List(ctx, man.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "models/tiny/1/manifest.json,models/tiny/1/model.onnx,models/tiny/1/vocab.txt" {
		t.Fatalf("registered keys %v", keys)
	}
}

func TestCorruptModelInStore(t *testing.T) {
	ctx := context.Background()
	st, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dir := tinyBERTFolder(t, "broken", manifest.PoolMean, 16, 0)
	if _, err := reg.Register(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := st.PutObject(ctx, "models/broken/1/model.onnx", []byte("garbage"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Encoder(ctx, "broken@1"); err == nil || !strings.Contains(err.Error(), "broken@1") {
		t.Fatalf("corrupt model: err = %v", err)
	}
	// A manifest whose name disagrees with its folder is refused.
	mb, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := st.PutObject(ctx, "models/other/1/manifest.json", mb, "application/json"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Encoder(ctx, "other@1"); !errors.Is(err, extractors.ErrInvalidModel) {
		t.Fatalf("misplaced manifest: err = %v", err)
	}
}

// TestSharedModelConcurrentEncode: many goroutines encode through handles
// of one shared model; their items are batched together and every result
// matches the single-item result.
func TestSharedModelConcurrentEncode(t *testing.T) {
	prom := prometheus.NewRegistry()
	reg := newRegistry(t, extractors.WithMetrics(prom), extractors.WithBatching(batch.WithMaxBatch(16), batch.WithMaxDelay(5*time.Millisecond)))
	ctx := context.Background()
	texts := []string{"red running shoes", "green tea", "steel chef knife", "wooden toy blocks"}
	if reg.Loaded(extractors.StarterID(extractors.Text)) {
		t.Fatal("Loaded before any Encoder call")
	}
	ref := defaultEncoder(t, reg, extractors.Text)
	if !reg.Loaded(extractors.StarterID(extractors.Text)) || reg.Loaded(extractors.StarterID(extractors.Image)) || reg.Loaded("not an id") {
		t.Fatal("Loaded: want the text model only")
	}
	want, err := ref.Encode(ctx, bytesOf(texts))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := reg.Encoder(ctx, extractors.StarterID(extractors.Text))
			if err != nil {
				errs <- err
				return
			}
			defer enc.Close()
			for r := 0; r < 10; r++ {
				i := (g + r) % len(texts)
				got, err := enc.Encode(ctx, [][]byte{[]byte(texts[i])})
				if err != nil {
					errs <- err
					return
				}
				if dot(got[0], want[i]) < 0.99999 {
					errs <- errors.New("concurrent result differs from the reference")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	families, err := prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var batches, items uint64
	var itemSum float64
	for _, f := range families {
		if f.GetName() != "omnirank_extract_batch_size" {
			continue
		}
		for _, m := range f.GetMetric() {
			batches += m.GetHistogram().GetSampleCount()
			itemSum += m.GetHistogram().GetSampleSum()
		}
	}
	items = uint64(itemSum)
	if items != 4+12*10 {
		t.Fatalf("metrics saw %d items, want %d", items, 4+12*10)
	}
	if batches >= items {
		t.Fatalf("%d batches for %d items: nothing was batched together", batches, items)
	}
	t.Logf("%d items in %d batches", items, batches)
}

func TestEncoderLifetimes(t *testing.T) {
	ctx := context.Background()
	reg, err := extractors.NewRegistry(starterStore(t))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := reg.Default(ctx, extractors.Image)
	if err != nil {
		t.Fatal(err)
	}
	png := encodePNG(t, picture(5, 80, 60))
	// The registry closing leaves open encoders working.
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Encoder(ctx, extractors.StarterID(extractors.Image)); !errors.Is(err, extractors.ErrClosed) {
		t.Fatalf("Encoder after registry Close: err = %v", err)
	}
	if _, err := enc.Encode(ctx, [][]byte{png}); err != nil {
		t.Fatalf("open encoder after registry Close: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(ctx, [][]byte{png}); !errors.Is(err, extractors.ErrClosed) {
		t.Fatalf("Encode after Close: err = %v", err)
	}
	// A cancelled context is returned as such, not as bad input.
	reg2 := newRegistry(t)
	enc2 := defaultEncoder(t, reg2, extractors.Image)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := enc2.Encode(cctx, [][]byte{png}); !errors.Is(err, context.Canceled) || errors.Is(err, extractors.ErrBadInput) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestRegistryOptionsValidate(t *testing.T) {
	st := starterStore(t)
	for _, o := range []extractors.Option{
		extractors.WithSession(ort.WithDevice("tpu")), extractors.WithSession(ort.WithIntraOpThreads(-1)),
		extractors.WithSession(ort.WithInterOpThreads(-1)), extractors.WithSession(ort.WithName("")),
		extractors.WithRuntime(ort.WithLibraryPath("")), extractors.WithLogger(nil), extractors.WithMetrics(nil),
		extractors.WithBatching(batch.WithMaxBatch(0)), extractors.WithBatching(batch.WithMaxDelay(-1)),
		extractors.WithBatching(batch.WithConcurrency(0)), extractors.WithBatching(batch.WithQueueSize(0)),
		extractors.WithMaxModelBytes(0), extractors.WithPreprocessWorkers(0),
	} {
		if _, err := extractors.NewRegistry(st, o); !errors.Is(err, extractors.ErrInvalidOption) {
			t.Errorf("err = %v, want ErrInvalidOption", err)
		}
	}
	if _, err := extractors.NewRegistry(nil); !errors.Is(err, extractors.ErrInvalidOption) {
		t.Errorf("nil store: err = %v", err)
	}
	// A missing ONNX Runtime fails the first load with the setup hint.
	reg, err := extractors.NewRegistry(st, extractors.WithRuntime(ort.WithLibraryPath(filepath.Join(t.TempDir(), "none.so"))))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.Default(context.Background(), extractors.Text); err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("missing library: err = %v", err)
	}
}

func TestWindows(t *testing.T) {
	ramp := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(i + 1)
		}
		return s
	}
	cases := []struct {
		name             string
		n, win, hop, max int
		wantStarts       []float32 // first sample of each window
	}{
		{"short clip repeats", 3, 8, 8, 4, []float32{1}},
		{"exact", 8, 8, 8, 4, []float32{1}},
		{"two full", 16, 8, 8, 4, []float32{1, 9}},
		{"tail kept aligned to end", 20, 8, 8, 4, []float32{1, 9, 13}},
		{"small tail dropped", 17, 8, 8, 4, []float32{1, 9}},
		{"hop", 16, 8, 4, 4, []float32{1, 5, 9}},
		{"thinned", 80, 8, 8, 3, []float32{1, 33, 73}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws, err := extractors.Windows(ramp(c.n), c.win, c.hop, c.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(ws) != len(c.wantStarts) {
				t.Fatalf("%d windows, want %d", len(ws), len(c.wantStarts))
			}
			for i, w := range ws {
				if len(w) != c.win || w[0] != c.wantStarts[i] {
					t.Fatalf("window %d: len %d starts at %v, want %v", i, len(w), w[0], c.wantStarts[i])
				}
			}
		})
	}
	if ws, _ := extractors.Windows(ramp(3), 8, 8, 4); ws[0][3] != 1 || ws[0][7] != 2 {
		t.Fatalf("short clip not repeated: %v", ws[0])
	}
	for _, bad := range [][]float32{nil, make([]float32, 100)} {
		if _, err := extractors.Windows(bad, 8, 8, 4); !errors.Is(err, extractors.ErrBadInput) {
			t.Errorf("err = %v, want ErrBadInput", err)
		}
	}
}
