package extractors_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/starter"
)

// TestStandinModels runs small versions of the stand-in encoders (the same
// builders as the full-size MiniLM-L6 and ResNet-18 shapes) through the
// production registry and encoders: they load, give vectors of the
// manifest's size, honour the attention mask, and depend on their input.
func TestStandinModels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	text := starter.BERTShape{Vocab: 600, Hidden: 32, Layers: 2, Heads: 4, FFN: 64, MaxPositions: 64, Seed: 2}
	img := starter.ConvShape{Size: 32, Stem: 8, Stages: []int{8, 16}, Blocks: 2, Seed: 2}
	if err := starter.WriteStandins(dir, text, img); err != nil {
		t.Fatal(err)
	}
	st, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st, extractors.WithSession(ort.WithDevice(ort.DeviceCPU)), extractors.WithBatching(batch.WithMaxBatch(4)))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	t.Run("text", func(t *testing.T) {
		enc := registerEncoder(t, reg, filepath.Join(dir, "text"))
		alone, err := enc.Encode(ctx, [][]byte{[]byte("red running shoes")})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := enc.Encode(ctx, [][]byte{[]byte("a blue wool coat for winter, large"), []byte("red running shoes")})
		if err != nil {
			t.Fatal(err)
		}
		checkUnit(t, append(alone, batch...), text.Hidden)
		if s := dot(alone[0], batch[1]); s < 0.9999 {
			t.Fatalf("padding changed the vector: cosine %v", s)
		}
		if s := dot(batch[0], batch[1]); s > 0.9999 {
			t.Fatalf("different texts give the same vector: cosine %v", s)
		}
	})
	t.Run("image", func(t *testing.T) {
		enc := registerEncoder(t, reg, filepath.Join(dir, "image"))
		pic := func(c color.RGBA, half bool) []byte {
			m := image.NewRGBA(image.Rect(0, 0, 48, 48))
			for y := range 48 {
				for x := range 48 {
					if half && x > 24 {
						m.Set(x, y, color.RGBA{255, 255, 255, 255})
						continue
					}
					m.Set(x, y, c)
				}
			}
			var b bytes.Buffer
			if err := png.Encode(&b, m); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}
		vs, err := enc.Encode(ctx, [][]byte{pic(color.RGBA{200, 20, 20, 255}, false), pic(color.RGBA{20, 20, 200, 255}, true)})
		if err != nil {
			t.Fatal(err)
		}
		checkUnit(t, vs, img.Stages[len(img.Stages)-1])
		if s := dot(vs[0], vs[1]); s > 0.9999 {
			t.Fatalf("different pictures give the same vector: cosine %v", s)
		}
	})
}

// registerEncoder registers a model folder and opens its encoder, closed
// at the end of the test.
func registerEncoder(t *testing.T, reg *extractors.Registry, dir string) extractors.Encoder {
	t.Helper()
	ctx := context.Background()
	man, err := reg.Register(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := reg.Encoder(ctx, man.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc
}
