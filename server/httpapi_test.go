package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/omnirank/omnirank/auth"
)

// startHTTP starts a server with the HTTP listener on loopback, uploads
// the test catalogue through the JSON API (media as base64) and waits
// until it is searchable. It returns the base URL.
func startHTTPCatalogue(t *testing.T) (*env, string) {
	t.Helper()
	cfg := testConfig(t.TempDir())
	cfg.HTTPAddr = "127.0.0.1:0"
	e := startWith(t, cfg)
	base := "http://" + e.srv.HTTPAddr()
	for _, tp := range catalogue {
		body, err := protojson.Marshal(tp.upsert(t))
		if err != nil {
			t.Fatal(err)
		}
		code, out := postJSON(t, base+"/v1/products", string(body))
		if code != http.StatusOK {
			t.Fatalf("POST /v1/products %s: %d %s", tp.id, code, out)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var st struct {
			Spaces []struct {
				Vectors string `json:"vectors"` // int64 is a JSON string
				Active  bool   `json:"active"`
			} `json:"spaces"`
		}
		getJSON(t, base+"/v1/admin/status", &st)
		for _, sp := range st.Spaces {
			if sp.Active && sp.Vectors == fmt.Sprint(len(catalogue)) {
				return e, base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after 1 min: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do sends one request (header: name, value pairs) and reads the answer.
func do(t *testing.T, method, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func postJSON(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, out := do(t, http.MethodPost, url, body, "Content-Type", "application/json")
	return resp.StatusCode, out
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, "", header...)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, out := get(t, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, out)
	}
}

// jsonResults is RecommendResponse as JSON.
type jsonResults struct {
	Results []struct {
		ID            string  `json:"id"`
		Score         float64 `json:"score"`
		Contributions []struct {
			Name  string  `json:"name"`
			Value float64 `json:"value"`
		} `json:"contributions"`
	} `json:"results"`
	Space string `json:"space"`
}

func (r jsonResults) ids() []string {
	var out []string
	for _, x := range r.Results {
		out = append(out, x.ID)
	}
	return out
}

// TestHTTPJSONAPI runs the README's curl examples (search by text and by
// image) and the other services over JSON/HTTP against a real server.
func TestHTTPJSONAPI(t *testing.T) {
	// Read before the server starts: the embedded S3 gateway changes the
	// working directory.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	e, base := startHTTPCatalogue(t)

	t.Run("README", func(t *testing.T) {
		cmds := readmeCurlExamples(t, string(readme))
		if len(cmds) < 2 {
			t.Fatalf("README has %d curl examples under the marker, want at least text and image", len(cmds))
		}
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed: the README examples need it")
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "guitar.png"), testImage(t, 4), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			want := "shoe-red"
			if strings.Contains(c, "guitar.png") {
				want = "guitar"
			}
			cmd := exec.Command("bash", "-o", "pipefail", "-c", strings.ReplaceAll(c, "localhost:8080", e.srv.HTTPAddr()))
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			var r jsonResults
			if err := json.Unmarshal(out, &r); err != nil || len(r.Results) == 0 || r.Results[0].ID != want {
				t.Fatalf("%s\nanswered %s (%v), want %s first", c, truncateBody(out), err, want)
			}
		}
	})

	recommend := func(t *testing.T, path, body string) jsonResults {
		t.Helper()
		code, out := postJSON(t, base+path, body)
		if code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, code, out)
		}
		var r jsonResults
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		return r
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, path, body, first string
		explained               bool
	}{
		// README: curl -s localhost:8080/v1/recommend -H 'Content-Type: application/json' \
		//   -d '{"query_text": "red running shoes", "k": 3, "explain": true}'
		{"text REST", "/v1/recommend", `{"query_text": "red running shoes", "k": 3, "explain": true}`, "shoe-red", true},
		{"text Connect", "/omnirank.v1.RankerService/Recommend", `{"queryText": "red running shoes", "k": 3}`, "shoe-red", false},
		// README: curl ... -d "{\"query_image\": \"$(base64 -w0 guitar.png)\", \"k\": 3}"
		{"image REST", "/v1/recommend", `{"query_image": "` + b64(testImage(t, 4)) + `", "k": 3}`, "guitar", false},
		{"audio REST", "/v1/recommend", `{"query_audio": "` + b64(testWAV(t, 3, 1.5)) + `", "k": 3, "explain": true}`, "chess", true},
		{"more like this", "/v1/recommend", `{"positive_ids": ["boots"], "k": 3}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := recommend(t, tc.path, tc.body)
			if len(r.Results) == 0 || (tc.first != "" && r.Results[0].ID != tc.first) {
				t.Fatalf("got %v, want %s first", r.ids(), tc.first)
			}
			if r.Space != StarterSpaceName {
				t.Errorf("space %q", r.Space)
			}
			if tc.explained && len(r.Results[0].Contributions) == 0 {
				t.Error("explain gave no contributions")
			}
			if tc.first == "" && r.Results[0].ID == "boots" {
				t.Error("more like boots returned boots itself")
			}
		})
	}

	t.Run("catalogue get", func(t *testing.T) {
		var g struct {
			Product struct {
				Title string `json:"title"`
			} `json:"product"`
			State string `json:"state"`
		}
		getJSON(t, base+"/v1/products/shoe-red", &g)
		if g.Product.Title != "Red running shoes" || g.State != "indexed" {
			t.Fatalf("got %+v", g)
		}
	})
	t.Run("feedback", func(t *testing.T) {
		code, out := postJSON(t, base+"/v1/feedback", `{"events": [{"user_id": "u1", "product_id": "drum", "kind": "click"}]}`)
		if code != http.StatusOK || !strings.Contains(string(out), `"accepted":"1"`) {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("admin spaces", func(t *testing.T) {
		var sp struct {
			Spaces []struct {
				Name   string `json:"name"`
				Active bool   `json:"active"`
			} `json:"spaces"`
		}
		getJSON(t, base+"/v1/admin/spaces", &sp)
		if len(sp.Spaces) == 0 || sp.Spaces[0].Name != StarterSpaceName || !sp.Spaces[0].Active {
			t.Fatalf("got %+v", sp)
		}
	})
	t.Run("openapi", func(t *testing.T) {
		var doc struct {
			Swagger string                     `json:"swagger"`
			Paths   map[string]json.RawMessage `json:"paths"`
		}
		getJSON(t, base+"/openapi.json", &doc)
		for _, p := range []string{"/v1/recommend", "/v1/products/{id}", "/v1/admin/status", "/v1/feedback", "/omnirank.v1.CatalogService/BulkUpsert"} {
			if _, ok := doc.Paths[p]; !ok {
				t.Errorf("openapi.json has no path %s", p)
			}
		}
	})
	// Bad input gets a clear error with the gRPC status it maps to.
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"malformed JSON", "POST", "/v1/recommend", `{"query_text": `, 400, "unexpected"},
		{"unknown field", "POST", "/v1/recommend", `{"querytext": "shoes"}`, 400, "querytext"},
		{"bad base64", "POST", "/v1/recommend", `{"query_image": "not base64!"}`, 400, "queryimage"},
		{"undecodable image", "POST", "/v1/recommend", `{"query_image": "` + b64([]byte("not an image")) + `"}`, 400, "image"},
		{"k too large", "POST", "/v1/recommend", `{"query_text": "shoe", "k": 5000}`, 400, "k"},
		{"unknown product", "GET", "/v1/products/no-such", "", 404, "no-such"},
		{"unknown route", "GET", "/v1/nothing", "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := do(t, tc.method, base+tc.path, tc.body, "Content-Type", "application/json")
			if resp.StatusCode != tc.code || !strings.Contains(strings.ToLower(string(out)), tc.says) {
				t.Fatalf("%s %s: %d %s, want %d mentioning %q", tc.method, tc.path, resp.StatusCode, out, tc.code, tc.says)
			}
		})
	}
	t.Run("same size cap as gRPC", func(t *testing.T) {
		// The guard's cap for Recommend (auth.SizeQuery) applies to the
		// transcoded call exactly as to a gRPC one.
		big := b64(make([]byte, auth.DefaultMaxQueryBytes+1))
		code, out := postJSON(t, base+"/v1/recommend", `{"query_image": "`+big+`"}`)
		if code != http.StatusTooManyRequests || !strings.Contains(string(out), "exceeds this method's cap") {
			t.Fatalf("%d %s, want 429 resource exhausted from the size cap", code, truncateBody(out))
		}
	})
}

// readmeCurlExamples returns the commands of the sh block after the
// README's marker comment, continuation lines (ending in \ or |) joined.
func readmeCurlExamples(t *testing.T, readme string) []string {
	t.Helper()
	_, block, ok := strings.Cut(readme, "<!-- The curl lines of this block are run by server/httpapi_test.go")
	if !ok {
		t.Fatal("README lost the marker of its tested curl examples")
	}
	_, block, _ = strings.Cut(block, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var cmds []string
	var cur strings.Builder
	for line := range strings.SplitSeq(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(line, "|") {
			cur.WriteString(" ")
			continue
		}
		cmds = append(cmds, cur.String())
		cur.Reset()
	}
	return cmds
}

func truncateBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestHTTPMedia checks the media routes: what the bucket holds, ranges,
// thumbnails, and 404 for anything outside a product's listed media.
func TestHTTPMedia(t *testing.T) {
	_, base := startHTTPCatalogue(t)

	t.Run("image as stored", func(t *testing.T) {
		resp, out := get(t, base+"/v1/products/shoe-red/image")
		if resp.StatusCode != 200 || !bytes.Equal(out, testImage(t, 1)) || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("%d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(out))
		}
		again, _ := get(t, base+"/v1/products/shoe-red/image", "If-None-Match", resp.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %d, want 304", again.StatusCode)
		}
	})
	t.Run("audio range", func(t *testing.T) {
		resp, out := get(t, base+"/v1/products/chess/audio", "Range", "bytes=0-3")
		if resp.StatusCode != http.StatusPartialContent || string(out) != "RIFF" || resp.Header.Get("Content-Type") != "audio/wav" {
			t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), out)
		}
	})
	t.Run("thumbnail", func(t *testing.T) {
		for _, size := range []int{64, 200} {
			resp, out := get(t, fmt.Sprintf("%s/v1/products/guitar/thumbnail?size=%d", base, size))
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			want := min(size, 96) // never enlarged
			if b := img.Bounds(); b != image.Rect(0, 0, want, want) {
				t.Errorf("size=%d: thumbnail %v, want %dx%d", size, b, want, want)
			}
		}
	})
	for _, tc := range []struct {
		name, path string
		code       int
	}{
		{"unknown product", "/v1/products/no-such/image", 404},
		{"no audio", "/v1/products/mug-blue/audio", 404},
		{"key not listed", "/v1/products/shoe-red/image?key=voice.wav", 404},
		{"key of another product", "/v1/products/shoe-red/image?key=../mug-blue/image.png", 404},
		{"key to product.json", "/v1/products/shoe-red/image?key=product.json", 404},
		{"key outside products", "/v1/products/shoe-red/image?key=../../models/x", 404},
		{"encoded slash in id", "/v1/products/shoe-red%2F..%2Fmug-blue/image", 404},
		{"dot-dot id", "/v1/products/%2e%2e/image", 404},
		{"encoded dot-dot path", "/v1/products/shoe-red/image/..%2F..%2Fmug-blue%2Fimage", 404},
		{"thumbnail too big", "/v1/products/guitar/thumbnail?size=513", 400},
		{"thumbnail size not a number", "/v1/products/guitar/thumbnail?size=big", 400},
		{"thumbnail of no image", "/v1/products/no-such/thumbnail", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := get(t, base+tc.path)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s: %d %s, want %d", tc.path, resp.StatusCode, truncateBody(out), tc.code)
			}
		})
	}
	t.Run("dot-dot path never serves another product", func(t *testing.T) {
		// The mux cleans /a/../b into a redirect; whatever it answers, it
		// is not shoe-red's or another product's bytes under this path.
		resp, out := get(t, base+"/v1/products/shoe-red/../mug-blue/image")
		if resp.Request.URL.Path != "/v1/products/mug-blue/image" && bytes.Equal(out, testImage(t, 2)) {
			t.Fatalf("served mug-blue's image at %s", resp.Request.URL.Path)
		}
	})
}
