package httpapi

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// Every unary method of the public API has exactly one REST rule, and
// every rule names a method that exists.
func TestHTTPRulesCoverTheAPI(t *testing.T) {
	rules, err := HTTPRules()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rules {
		seen[r.GetSelector()]++
	}
	fd := pb.File_omnirank_v1_omnirank_proto
	unary := map[string]bool{}
	for i := range fd.Services().Len() {
		svc := fd.Services().Get(i)
		for j := range svc.Methods().Len() {
			m := svc.Methods().Get(j)
			if !m.IsStreamingClient() && !m.IsStreamingServer() {
				unary[string(m.FullName())] = true
			}
		}
	}
	for name := range unary {
		if seen[name] != 1 {
			t.Errorf("%s has %d REST rules, want 1", name, seen[name])
		}
	}
	for name := range seen {
		if !unary[name] {
			t.Errorf("rule for %s, which is not a unary method of %s", name, protoreflect.FullName(fd.Package()))
		}
	}
}

func TestLRUBoundsBytes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int64
		adds    []string // key:size
		touch   string   // read between adds[len-2] and the last add
		want    []string // keys held at the end
		wantLen int64
	}{
		{"fits", 10, []string{"a:3", "b:3", "c:3"}, "", []string{"a", "b", "c"}, 9},
		{"evicts oldest", 10, []string{"a:4", "b:4", "c:4"}, "", []string{"b", "c"}, 8},
		{"read keeps entry", 10, []string{"a:4", "b:4", "c:4"}, "a", []string{"a", "c"}, 8},
		{"too big is not kept", 10, []string{"a:4", "b:11"}, "", []string{"a"}, 4},
		{"replace counts once", 10, []string{"a:4", "a:6"}, "", []string{"a"}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLRU(tc.max)
			for i, a := range tc.adds {
				if i == len(tc.adds)-1 && tc.touch != "" {
					if _, ok := c.get(tc.touch); !ok {
						t.Fatalf("%s missing before the last add", tc.touch)
					}
				}
				var key string
				var n int
				if _, err := fmt.Sscanf(strings.Replace(a, ":", " ", 1), "%s %d", &key, &n); err != nil {
					t.Fatal(err)
				}
				c.add(key, make([]byte, n))
			}
			for _, k := range tc.want {
				if _, ok := c.get(k); !ok {
					t.Errorf("%s evicted", k)
				}
			}
			if n, b := c.stats(); n != len(tc.want) || b != tc.wantLen {
				t.Errorf("holds %d entries, %d bytes; want %d, %d", n, b, len(tc.want), tc.wantLen)
			}
		})
	}
}

func TestThumbnail(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 150))
	for y := range 150 {
		for x := range 300 {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 0, uint8(255 * (x % 2))}) // half transparent
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size int
		want image.Rectangle
	}{
		{100, image.Rect(0, 0, 100, 50)},
		{512, image.Rect(0, 0, 300, 150)}, // never enlarged
	} {
		out, err := thumbnail(buf.Bytes(), tc.size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if got.Bounds() != tc.want {
			t.Errorf("size %d: %v, want %v", tc.size, got.Bounds(), tc.want)
		}
	}
	if _, err := thumbnail([]byte("<html>"), 64); err == nil || !strings.Contains(err.Error(), "undecodable") {
		t.Errorf("not an image: %v", err)
	}
}

func TestDisplayTypeNeverServesActiveContent(t *testing.T) {
	pngHeader := []byte("\x89PNG\r\n\x1a\n")
	for _, tc := range []struct {
		kind, declared, stored string
		data                   []byte
		want                   string
	}{
		{"image", "image/png", "", pngHeader, "image/png"},
		{"image", "text/html", "text/html", []byte("<html><script>"), "application/octet-stream"},
		{"image", "text/html", "", pngHeader, "image/png"},
		{"audio", "", "audio/wav", nil, "audio/wav"},
		{"audio", "image/png", "", pngHeader, "application/octet-stream"},
	} {
		if got := displayType(tc.kind, tc.declared, tc.stored, tc.data); got != tc.want {
			t.Errorf("%s declared %q stored %q: %s, want %s", tc.kind, tc.declared, tc.stored, got, tc.want)
		}
	}
}

// BenchmarkThumbnail: a 1000×1000 JPEG to a 256-pixel thumbnail (decode,
// fit, encode), the work a cache miss costs.
func BenchmarkThumbnail(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 1000, 1000))
	for y := range 1000 {
		for x := range 1000 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := thumbnail(buf.Bytes(), 256); err != nil {
			b.Fatal(err)
		}
	}
}
