package samplecatalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-audio/wav"

	"github.com/omnirank/omnirank/eval"
	"github.com/omnirank/omnirank/storage"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		out  string
		opt  Option
	}{
		{"empty out", "", WithLimit(5)},
		{"zero limit", "x", WithLimit(0)},
		{"negative voice", "x", WithVoiceEvery(-1)},
		{"negative queries", "x", WithQueries(-2)},
		{"zero workers", "x", WithWorkers(0)},
		{"empty cache", "x", WithCacheDir("")},
		{"empty tarball", "x", WithTarball("")},
		{"nil logger", "x", WithLogger(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.out, tt.opt); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("err = %v, want ErrInvalidOption", err)
			}
		})
	}
	if _, err := New("x", WithLimit(5), WithVoiceEvery(0), WithQueries(0), WithWorkers(3)); err != nil {
		t.Fatalf("valid options: %v", err)
	}
}

func TestStampDependsOnOptions(t *testing.T) {
	base, _ := New("x")
	seen := map[string]string{base.stamp(): "default"}
	for name, opt := range map[string]Option{
		"limit":   WithLimit(5),
		"voice":   WithVoiceEvery(2),
		"queries": WithQueries(1),
	} {
		b, err := New("x", opt)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[b.stamp()]; dup {
			t.Errorf("option %s gives the same stamp as %s", name, prev)
		}
		seen[b.stamp()] = name
	}
	// Editing a table changes the stamp.
	titleOverrides["ZZ TEST"] = "Zz"
	edited := base.stamp()
	delete(titleOverrides, "ZZ TEST")
	if edited == base.stamp() {
		t.Error("editing the title table kept the stamp")
	}
	// Options that do not change the output do not change the stamp.
	same, _ := New("elsewhere", WithWorkers(7), WithCacheDir("/c"), WithForce(true))
	if same.stamp() != base.stamp() {
		t.Error("workers, cache or force changed the stamp")
	}
}

func TestBuildRefusesForeignOutput(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := New(out, WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(t.Context()); !errors.Is(err, ErrOutputNotOurs) {
		t.Fatalf("err = %v, want ErrOutputNotOurs", err)
	}
	if data, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(data) != "mine" {
		t.Fatalf("foreign file touched: %q %v", data, err)
	}
}

func TestBuildNamesMissingTools(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		wantMsg string
	}{
		{"voice needs espeak-ng", nil, "apt-get install espeak-ng"},
		{"fetch needs npm", []Option{WithVoiceEvery(0), WithQueries(0)}, "apt-get install npm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir()) // no programs at all
			b, err := New(filepath.Join(t.TempDir(), "out"), append([]Option{WithCacheDir(t.TempDir())}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Build(t.Context())
			if !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want ErrToolMissing saying %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEnsureSourceRejectsWrongTarball(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), TarballName())
	if err := os.WriteFile(bogus, []byte("not the emoji package"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	_, err := EnsureSource(t.Context(), cache, bogus, nil)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(filepath.Join(cache, EmojiPackage+"-"+EmojiVersion)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a rejected tarball left an extraction behind: %v", err)
	}
}

func TestReadCatalogErrors(t *testing.T) {
	tests := []struct {
		name, content string
	}{
		{"not json", "{oops\n"},
		{"no id", `{"title":"Jeans"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, CatalogFile), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadCatalog(dir); !errors.Is(err, ErrBadCatalog) {
				t.Fatalf("err = %v, want ErrBadCatalog", err)
			}
		})
	}
	if _, err := ReadCatalog(t.TempDir()); !errors.Is(err, ErrBadCatalog) {
		t.Fatalf("missing file: err = %v, want ErrBadCatalog", err)
	}
	if _, err := ReadQueries(t.TempDir()); !errors.Is(err, ErrBadCatalog) {
		t.Fatalf("missing queries: err = %v, want ErrBadCatalog", err)
	}
}

func TestRunPool(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		workers  int
		n        int
		failAt   int // -1: never
		wantErr  error
		wantAll  bool
		cancelIn bool
	}{
		{"all run", 3, 50, -1, nil, true, false},
		{"more workers than work", 8, 2, -1, nil, true, false},
		{"no work", 2, 0, -1, nil, true, false},
		{"first error wins", 2, 1000, 5, boom, false, false},
		{"cancelled", 2, 1000, -1, context.Canceled, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var ran atomic.Int64
			err := runPool(ctx, tt.workers, tt.n, func(ctx context.Context, i int) error {
				ran.Add(1)
				if i == tt.failAt {
					return boom
				}
				if tt.cancelIn && i == 3 {
					cancel()
				}
				return ctx.Err()
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantAll && ran.Load() != int64(tt.n) {
				t.Fatalf("ran %d of %d", ran.Load(), tt.n)
			}
			if !tt.wantAll && ran.Load() == int64(tt.n) {
				t.Fatalf("all %d ran after a failure", tt.n)
			}
		})
	}
}

// integrationCache returns the cache folder for the integration test, or
// skips it: it needs espeak-ng and sox, and either the extracted emoji
// package in the cache or npm to fetch it.
func integrationCache(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: -short")
	}
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("integration test needs %s (apt-get install %s)", tool, tool)
		}
	}
	cache := DefaultCacheDir()
	if b, err := os.ReadFile(filepath.Join(cache, EmojiPackage+"-"+EmojiVersion, ".complete")); err == nil && string(b) == completeMarker() {
		return cache
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skipf("integration test needs npm (apt-get install npm) to fetch %s@%s once into %s", EmojiPackage, EmojiVersion, cache)
	}
	return cache
}

func TestBuildSmallCatalogue(t *testing.T) {
	cache := integrationCache(t)
	out := filepath.Join(t.TempDir(), "sample")
	const limit, queries = 5, 2
	b, err := New(out, WithCacheDir(cache), WithLimit(limit), WithQueries(queries), WithVoiceEvery(2))
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Build(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.Products != limit || res.Voices != 3 || res.Queries != 3*queries {
		t.Fatalf("result = %+v, want %d products, 3 voices, %d queries", res, limit, 3*queries)
	}

	// Every product folder: product.json parses into storage.Product, its
	// media exist and decode.
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]storage.Product{}
	var images [][]byte
	for _, e := range entries {
		if !e.IsDir() || e.Name() == QueriesDir {
			continue
		}
		p := readProduct(t, filepath.Join(out, e.Name()))
		if p.ID != e.Name() {
			t.Errorf("product.json id %q in folder %q", p.ID, e.Name())
		}
		if p.Title == "" || p.Description == "" || len(p.Category) != 2 || p.Brand == "" || p.Price <= 0 || p.Currency != Currency {
			t.Errorf("incomplete product %+v", p)
		}
		var hasImage bool
		for _, m := range p.Media {
			file := filepath.Join(out, e.Name(), m.Key)
			switch m.Kind {
			case "image":
				hasImage = true
				images = append(images, checkPNG(t, file))
			case "audio":
				checkWAV(t, file)
			default:
				t.Errorf("%s: media kind %q", p.ID, m.Kind)
			}
		}
		if !hasImage {
			t.Errorf("%s has no image", p.ID)
		}
		byID[p.ID] = p
	}
	if len(byID) != limit {
		t.Fatalf("%d product folders, want %d", len(byID), limit)
	}

	// catalog.jsonl holds the same products, media keys relative to out.
	lines, err := ReadCatalog(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != limit {
		t.Fatalf("catalog.jsonl has %d lines, want %d", len(lines), limit)
	}
	for _, p := range lines {
		want, ok := byID[p.ID]
		if !ok || p.Title != want.Title || len(p.Media) != len(want.Media) {
			t.Fatalf("catalog line %+v does not match product.json %+v", p, want)
		}
		for i, m := range p.Media {
			if m.Key != p.ID+"/"+want.Media[i].Key {
				t.Errorf("catalog media key %q, want %q", m.Key, p.ID+"/"+want.Media[i].Key)
			}
			if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(m.Key))); err != nil {
				t.Error(err)
			}
		}
	}

	// Queries point at products and are not copies of product media.
	qs, err := ReadQueries(out)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, q := range qs.Queries {
		kinds[q.Kind]++
		if _, ok := byID[q.Expect]; !ok {
			t.Errorf("query %s expects unknown product %q", q.ID, q.Expect)
		}
		switch q.Kind {
		case "image":
			data, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(q.Path)))
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range images {
				if bytes.Equal(img, data) {
					t.Errorf("query %s is byte-identical to a product image", q.ID)
				}
			}
		case "audio":
			checkWAV(t, filepath.Join(out, filepath.FromSlash(q.Path)))
		case "text":
			if q.Text == "" {
				t.Errorf("text query %s is empty", q.ID)
			}
		}
	}
	for _, k := range []string{"image", "audio", "text"} {
		if kinds[k] != queries {
			t.Errorf("%d %s queries, want %d", kinds[k], k, queries)
		}
	}

	// eval.jsonl is a valid labelled query file (media found relative to
	// it) holding the same queries.
	eqs, err := eval.ReadQueryFile(filepath.Join(out, QueriesDir, EvalFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(eqs) != len(qs.Queries) {
		t.Fatalf("%d eval queries, want %d", len(eqs), len(qs.Queries))
	}
	for i, eq := range eqs {
		q := qs.Queries[i]
		if eq.ID != q.ID || string(eq.Kind()) != q.Kind || len(eq.Relevant) != 1 || eq.Relevant[0] != q.Expect {
			t.Errorf("eval query %+v, from %+v", eq, q)
		}
	}

	// A second run with the same options is skipped; a forced one gives
	// the same bytes.
	before := snapshot(t, out)
	again, err := b.Build(t.Context())
	if err != nil || !again.Skipped || again.Products != limit {
		t.Fatalf("second build = %+v, %v; want skipped", again, err)
	}
	forced, err := New(out, WithCacheDir(cache), WithLimit(limit), WithQueries(queries), WithVoiceEvery(2), WithForce(true))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := forced.Build(t.Context()); err != nil || res.Skipped {
		t.Fatalf("forced build = %+v, %v", res, err)
	}
	after := snapshot(t, out)
	if len(after) != len(before) {
		t.Fatalf("forced rebuild wrote %d files, first build %d", len(after), len(before))
	}
	for name, data := range before {
		if !bytes.Equal(after[name], data) {
			t.Errorf("forced rebuild changed %s", name)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".sample.tmp-*")); len(left) > 0 {
		t.Errorf("build folders left behind: %v", left)
	}
}

func readProduct(t *testing.T, dir string) storage.Product {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, storage.ProductFile))
	if err != nil {
		t.Fatal(err)
	}
	var p storage.Product
	dec := jsonStrict(data)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return p
}

func checkPNG(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode image %s: %v", file, err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Errorf("%s is %v, want 64×64", file, b)
	}
	return data
}

func checkWAV(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	if !d.IsValidFile() {
		t.Fatalf("%s is not a valid WAV file", file)
	}
	if d.SampleRate != SampleRate || d.NumChans != 1 || d.BitDepth != 16 {
		t.Errorf("%s: %d Hz, %d channels, %d bits; want %d Hz mono 16-bit", file, d.SampleRate, d.NumChans, d.BitDepth, SampleRate)
	}
	dur, err := d.Duration()
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if dur.Seconds() < 0.3 || dur.Seconds() > 30 {
		t.Errorf("%s lasts %v", file, dur)
	}
}

// snapshot reads every file under dir, by relative path.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return files
}

// jsonStrict decodes refusing fields storage.Product does not have.
func jsonStrict(data []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec
}
