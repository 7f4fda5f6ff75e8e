package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/server"
)

// checkerPNG is a 48×48 PNG checkerboard of c and c's channels rotated.
func checkerPNG(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for y := range 48 {
		for x := range 48 {
			if (x/8+y/8)%2 == 0 {
				img.Set(x, y, c)
			} else {
				img.Set(x, y, color.RGBA{c.B, c.R, c.G, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeProduct(t *testing.T, dir, id, title string, c color.RGBA) {
	t.Helper()
	pd := filepath.Join(dir, id)
	if err := os.MkdirAll(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pd, "image.png"), checkerPNG(t, c), 0o644); err != nil {
		t.Fatal(err)
	}
	pj := fmt.Sprintf(`{"id":%q,"title":%q,"category":["test"],"price":5,"currency":"EUR","media":[{"key":"image.png","kind":"image","content_type":"image/png"}]}`, id, title)
	if err := os.WriteFile(filepath.Join(pd, "product.json"), []byte(pj), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startServer starts a real server with every role (embedded NATS and S3,
// the starter models, gRPC on loopback), closed at cleanup, and returns
// its gRPC address.
func startServer(t *testing.T) string {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with the configuration changed by edit.
func startServerWith(t *testing.T, edit func(*server.Config)) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	cfg.Device = "cpu"
	cfg.FusionWait = time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv.GRPCAddr()
}

// The CLI's client commands against a real server over gRPC.
func TestCLIIngestQueryStatus(t *testing.T) {
	ctx := context.Background()
	addr := startServer(t)
	cat := t.TempDir()
	writeProduct(t, cat, "teapot", "Porcelain teapot", color.RGBA{200, 30, 30, 255})
	writeProduct(t, cat, "sneaker", "Canvas sneaker", color.RGBA{30, 30, 200, 255})
	writeProduct(t, cat, "bad", "", color.RGBA{1, 2, 3, 255}) // no title: rejected by the API

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"ingest", "--addr", addr, "--quiet", cat}, &out, &errOut); err != nil {
		t.Fatalf("ingest: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "2 products accepted, 1 rejected") || !strings.Contains(out.String(), "bad:") {
		t.Fatalf("ingest output:\n%s", out.String())
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		out.Reset()
		if err := run(ctx, []string{"status", "--addr", addr}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "(active): 2 vectors") && strings.Contains(out.String(), "indexed 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed 2 vectors and 2 indexed products:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Only the two accepted products have records; nothing was dead-lettered.
	for _, line := range []string{"products: 2   rejected: ", "states: pending 0 · indexed 2 · partial 0 · failed 0\n",
		"dead letters: 0 (omnirank dlq list)\n"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("status lacks %q:\n%s", line, out.String())
		}
	}

	out.Reset()
	if err := run(ctx, []string{"query", "--addr", addr, "--text", "porcelain teapot", "-k", "2", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Space   string `json:"space"`
		Results []struct {
			ID            string             `json:"id"`
			Title         string             `json:"title"`
			Score         float32            `json:"score"`
			Contributions map[string]float32 `json:"contributions"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("query --json is not one JSON object: %v\n%s", err, out.String())
	}
	if len(res.Results) != 2 || res.Results[0].ID != "teapot" || res.Results[0].Title != "Porcelain teapot" {
		t.Fatalf("query results: %+v", res.Results)
	}
	if res.Results[0].Contributions["modality:text"] <= 0 {
		t.Fatalf("no text contribution: %+v", res.Results[0].Contributions)
	}
	if res.Results[0].Contributions["lexical:bm25"] <= 0 {
		t.Fatalf("no lexical contribution in a hybrid text query: %+v", res.Results[0].Contributions)
	}

	// Lexical only: "teapot" is in one title.
	out.Reset()
	if err := run(ctx, []string{"query", "--addr", addr, "--text", "teapot", "--lexical-weight", "1", "--fusion", "normalized", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	res.Results = nil
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("query --json is not one JSON object: %v\n%s", err, out.String())
	}
	if len(res.Results) != 1 || res.Results[0].ID != "teapot" || res.Results[0].Contributions["fusion:lexical"] != 1 {
		t.Fatalf("lexical-only query results: %+v", res.Results)
	}
	for _, bad := range [][]string{{"--lexical-weight", "2"}, {"--fusion", "max"}} {
		if err := run(ctx, append([]string{"query", "--addr", addr, "--text", "teapot"}, bad...), &out, &errOut); err == nil {
			t.Errorf("query %v accepted", bad)
		}
	}

	out.Reset()
	if err := run(ctx, []string{"query", "--addr", addr, "--image", filepath.Join(cat, "sneaker", "image.png"), "-k", "1"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sneaker") {
		t.Fatalf("image query:\n%s", out.String())
	}

	out.Reset()
	if err := run(ctx, []string{"models", "--addr", addr, "list"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"starter-text@1", "starter-image@1", "starter-audio@1"} {
		if !strings.Contains(out.String(), m) {
			t.Errorf("models list lacks %s:\n%s", m, out.String())
		}
	}
	if err := run(ctx, []string{"nonsense"}, &out, &errOut); err == nil {
		t.Error("unknown command accepted")
	}
	// users forget: the query above (sampled impressions) had no user;
	// forgetting one with no data purges nothing and says so.
	out.Reset()
	if err := run(ctx, []string{"users", "--addr", addr, "forget", "shopper-1"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `forgot "shopper-1": 0 events purged, 0 deleted, 0 impressions purged`) {
		t.Errorf("users forget output: %s", out.String())
	}
	if err := run(ctx, []string{"users", "--addr", addr, "forget"}, &out, &errOut); err == nil {
		t.Error("users forget without a user accepted")
	}
	cliCampaign(t, ctx, addr)
}

// cliCampaign drives spaces and a campaign through the CLI: the two
// products' blocks all keep their models, so the campaign reuses every
// feature and finishes at once.
func cliCampaign(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cli := func(args ...string) error {
		out.Reset()
		errOut.Reset()
		return run(ctx, append(args, "--addr", addr), &out, &errOut)
	}
	if err := cli("spaces", "create", "v2", "--block", "text=nope@1"); err == nil || !strings.Contains(err.Error(), "nope@1 is not registered") {
		t.Fatalf("space with an unknown model: %v", err)
	}
	if err := cli("spaces", "create", "v2", "--block", "text=starter-text@1", "--block", "image=starter-image@1:0.5"); err != nil {
		t.Fatal(err)
	}
	if err := cli("spaces", "list"); err != nil || !strings.Contains(out.String(), "starter-v1 (active)") || !strings.Contains(out.String(), "v2  dim 408") {
		t.Fatalf("spaces list (%v):\n%s", err, out.String())
	}
	if err := cli("campaign", "status"); err == nil {
		t.Fatal("status with no campaign: no error")
	}
	if err := cli("campaign", "start", "--space", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := cli("campaign", "watch"); err != nil || !strings.Contains(out.String(), "done") {
		t.Fatalf("watch (%v):\n%s", err, out.String())
	}
	if err := cli("campaign", "status", "--json"); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}
	keys := slices.Sorted(maps.Keys(st))
	if want := []string{"done", "eta_s", "failed", "items_per_s", "space", "state", "total"}; !slices.Equal(keys, want) {
		t.Fatalf("status --json keys %v, want %v", keys, want)
	}
	if st["state"] != "done" || st["done"] != 2.0 || st["total"] != 2.0 || st["space"] != "v2" {
		t.Fatalf("status --json: %v", st)
	}
	if err := cli("campaign", "promote"); err == nil || !strings.Contains(err.Error(), "no evaluation stored") {
		t.Fatalf("promote without an evaluation: %v", err)
	}
	if err := cli("campaign", "promote", "--force"); err != nil {
		t.Fatal(err)
	}
	if err := cli("query", "--text", "porcelain teapot", "-k", "1", "--json"); err != nil || !strings.Contains(out.String(), `"space": "v2"`) {
		t.Fatalf("query after promotion (%v):\n%s", err, out.String())
	}
	if err := cli("query", "--text", "porcelain teapot", "-k", "1", "--space", "starter-v1", "--json"); err != nil || !strings.Contains(out.String(), `"space": "starter-v1"`) {
		t.Fatalf("query --space (%v):\n%s", err, out.String())
	}
	if err := cli("campaign", "rollback"); err != nil {
		t.Fatal(err)
	}
	if err := cli("spaces", "retire", "v2"); err == nil {
		t.Fatal("retired the open campaign's space")
	}
	if err := cli("campaign", "cancel"); err != nil {
		t.Fatal(err)
	}
	if err := cli("spaces", "retire", "v2"); err != nil || !strings.Contains(out.String(), "retired v2: 2 embeddings") {
		t.Fatalf("retire (%v):\n%s", err, out.String())
	}
}

func TestStatesLine(t *testing.T) {
	tests := []struct {
		name   string
		states map[string]int64
		want   string
	}{
		{"empty", nil, "pending 0 · indexed 0 · partial 0 · failed 0"},
		{"known in pipeline order", map[string]int64{"failed": 1, "indexed": 358, "partial": 1},
			"pending 0 · indexed 358 · partial 1 · failed 1"},
		{"others alphabetically after", map[string]int64{"unknown": 2, "archived": 3, "pending": 4},
			"pending 4 · indexed 0 · partial 0 · failed 0 · archived 3 · unknown 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statesLine(tt.states); got != tt.want {
				t.Errorf("statesLine(%v) = %q, want %q", tt.states, got, tt.want)
			}
		})
	}
}

// Without WordNet, build-starter still writes the @1 models and says that
// starter-text@2 needs wordnet-base.
func TestBuildStarterWithoutWordNet(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := cmdModels(context.Background(), []string{"build-starter", out, "--wordnet", t.TempDir()}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"starter-text", "starter-image", "starter-audio"} {
		if _, err := os.Stat(filepath.Join(out, d, "model.onnx")); err != nil {
			t.Errorf("%s not written: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "starter-text-2")); err == nil {
		t.Error("starter-text-2 folder written without WordNet")
	}
	if !strings.Contains(stderr.String(), "starter-text@2") || !strings.Contains(stderr.String(), "wordnet-base") {
		t.Errorf("stderr %q does not name starter-text@2 and wordnet-base", stderr.String())
	}
}
