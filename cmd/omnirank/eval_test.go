package main

import (
	"image/png"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/omnirank/omnirank/eval"
	"github.com/omnirank/omnirank/eval/report"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// evalProducts have titles that share no word, and pictures of distinct
// colours.
type evalProduct struct {
	id, title string
	c         color.RGBA
}

var evalProducts = []evalProduct{
	{"teapot", "Porcelain teapot", color.RGBA{200, 30, 30, 255}},
	{"sneaker", "Canvas sneaker", color.RGBA{30, 30, 200, 255}},
	{"guitar", "Acoustic guitar", color.RGBA{30, 180, 40, 255}},
	{"kettle", "Electric kettle", color.RGBA{220, 200, 20, 255}},
	{"lamp", "Brass desk lamp", color.RGBA{120, 20, 160, 255}},
	{"umbrella", "Striped rain umbrella", color.RGBA{20, 190, 200, 255}},
}

// upsertAndWait adds the products through CatalogService and waits until
// the active space holds them all.
func upsertAndWait(t *testing.T, addr string) {
	t.Helper()
	ctx := context.Background()
	conn, err := (&clientFlags{addr: addr}).dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cat := pb.NewCatalogServiceClient(conn)
	for _, p := range evalProducts {
		_, err := cat.Upsert(ctx, &pb.UpsertRequest{
			Product: &pb.Product{Id: p.id, Title: p.title, Category: []string{"test"}, Price: 5, Currency: "EUR",
				Media: []*pb.MediaRef{{Key: "image.png", Kind: "image", ContentType: "image/png"}}},
			Media: []*pb.MediaBlob{{Key: "image.png", Kind: "image", ContentType: "image/png", Data: checkerPNG(t, p.c)}},
		})
		if err != nil {
			t.Fatalf("upsert %s: %v", p.id, err)
		}
	}
	admin := pb.NewAdminServiceClient(conn)
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := admin.Status(ctx, &pb.StatusRequest{})
		if err == nil && st.GetStates()["indexed"] == int64(len(evalProducts)) {
			for _, sp := range st.GetSpaces() {
				if sp.GetActive() && sp.GetVectors() == int64(len(evalProducts)) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("products not indexed in time: %v %v", st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// `omnirank eval` against a real server: text queries naming product
// titles, an image query and a mixed one find their product first; a query
// with a relevant product the catalogue lacks scores below 1 by the graded
// formula; bad files and failing queries are errors.
func TestCLIEval(t *testing.T) {
	addr := startServer(t)
	upsertAndWait(t, addr)
	ctx := context.Background()

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "media"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"guitar", "sneaker"} {
		i := slices.IndexFunc(evalProducts, func(p evalProduct) bool { return p.id == id })
		if err := os.WriteFile(filepath.Join(dir, "media", id+".png"), checkerPNG(t, evalProducts[i].c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	for _, p := range evalProducts {
		lines = append(lines, fmt.Sprintf(`{"id":"text-%s","text":%q,"relevant":[%q]}`, p.id, strings.ToLower(p.title), p.id))
	}
	lines = append(lines,
		`{"id":"image-guitar","image":"media/guitar.png","relevant":["guitar"]}`,
		`{"id":"mixed-sneaker","text":"canvas sneaker","image":"media/sneaker.png","relevant":["sneaker"]}`,
		// ghost is in no catalogue: recall 1/2, NDCG 2 / (2 + 1/log2 3).
		`{"id":"text-ghost","text":"porcelain teapot","relevant":["teapot","ghost"]}`,
	)
	queries := filepath.Join(dir, "eval.jsonl")
	if err := os.WriteFile(queries, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"eval", "--addr", addr, "--queries", queries, "-k", "3", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("eval: %v\n%s", err, errOut.String())
	}
	// The field names are the contract.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("eval --json is not one JSON object: %v\n%s", err, out.String())
	}
	if got, want := slices.Sorted(maps.Keys(raw)), []string{"all", "by_kind", "failed", "k", "queries", "space"}; !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	var byKind map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw["by_kind"], &byKind); err != nil {
		t.Fatal(err)
	}
	for kind, agg := range byKind {
		if got, want := slices.Sorted(maps.Keys(agg)), []string{"mrr_at_k", "n", "ndcg_at_k", "recall_at_k"}; !slices.Equal(got, want) {
			t.Errorf("by_kind.%s fields %v, want %v", kind, got, want)
		}
	}

	type agg struct {
		N      int     `json:"n"`
		Recall float64 `json:"recall_at_k"`
		NDCG   float64 `json:"ndcg_at_k"`
		MRR    float64 `json:"mrr_at_k"`
	}
	var res struct {
		Space    string         `json:"space"`
		K        int            `json:"k"`
		Queries  int            `json:"queries"`
		Failed   int            `json:"failed"`
		ByKind   map[string]agg `json:"by_kind"`
		All      agg            `json:"all"`
		PerQuery []struct {
			ID     string   `json:"id"`
			Ranked []string `json:"ranked"`
			Recall float64  `json:"recall_at_k"`
			NDCG   float64  `json:"ndcg_at_k"`
			MRR    float64  `json:"mrr_at_k"`
		} `json:"per_query"`
	}
	out.Reset()
	if err := run(ctx, []string{"eval", "--addr", addr, "--queries", queries, "-k", "3", "--json", "--per-query"}, &out, &errOut); err != nil {
		t.Fatalf("eval: %v\n%s", err, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Space != "starter-v1" || res.K != 3 || res.Queries != 9 || res.Failed != 0 || len(res.PerQuery) != 9 {
		t.Fatalf("result head: %+v", res)
	}
	ghostNDCG := 2 / (2 + 1/math.Log2(3))
	for _, q := range res.PerQuery {
		want := agg{Recall: 1, NDCG: 1, MRR: 1}
		if q.ID == "text-ghost" {
			want = agg{Recall: 0.5, NDCG: ghostNDCG, MRR: 1}
		}
		if !near(q.Recall, want.Recall) || !near(q.NDCG, want.NDCG) || !near(q.MRR, want.MRR) {
			t.Errorf("%s: ranked %v: recall %v ndcg %v mrr %v, want %+v", q.ID, q.Ranked, q.Recall, q.NDCG, q.MRR, want)
		}
	}
	wantKinds := map[string]agg{
		"text":  {N: 7, Recall: 6.5 / 7, NDCG: (6 + ghostNDCG) / 7, MRR: 1},
		"image": {N: 1, Recall: 1, NDCG: 1, MRR: 1},
		"mixed": {N: 1, Recall: 1, NDCG: 1, MRR: 1},
	}
	if len(res.ByKind) != len(wantKinds) {
		t.Errorf("by_kind %v, want kinds of %v", res.ByKind, wantKinds)
	}
	for kind, w := range wantKinds {
		if g := res.ByKind[kind]; g.N != w.N || !near(g.Recall, w.Recall) || !near(g.NDCG, w.NDCG) || !near(g.MRR, w.MRR) {
			t.Errorf("by_kind.%s = %+v, want %+v", kind, g, w)
		}
	}
	if a := res.All; a.N != 9 || !near(a.Recall, 8.5/9) || !near(a.NDCG, (8+ghostNDCG)/9) || !near(a.MRR, 1) {
		t.Errorf("all = %+v", a)
	}

	// The human table.
	out.Reset()
	if err := run(ctx, []string{"eval", "--addr", addr, "--queries", queries, "-k", "3"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"space starter-v1, k 3, 9 queries, 0 failed", "Recall@3", "0.929"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	t.Run("failed queries are counted and make the command fail", func(t *testing.T) {
		bad := filepath.Join(dir, "failing.jsonl")
		content := `{"id":"ok","text":"electric kettle","relevant":["kettle"]}` + "\n" +
			`{"id":"ghost-example","like":["ghost"],"relevant":["kettle"]}` + "\n"
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		errOut.Reset()
		err := run(ctx, []string{"eval", "--addr", addr, "--queries", bad, "-k", "3", "--json"}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "1 of 2 queries failed") {
			t.Fatalf("err = %v, want 1 of 2 queries failed", err)
		}
		var r struct {
			Failed int            `json:"failed"`
			All    agg            `json:"all"`
			ByKind map[string]agg `json:"by_kind"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("no JSON printed before the error: %v\n%s", err, out.String())
		}
		if r.Failed != 1 || r.All.N != 1 || r.ByKind["like"].N != 0 || r.ByKind["text"].Recall != 1 {
			t.Errorf("result %+v", r)
		}
		if !strings.Contains(errOut.String(), "failed ghost-example (like)") || !strings.Contains(errOut.String(), "ghost") {
			t.Errorf("stderr does not name the failure:\n%s", errOut.String())
		}
	})
	t.Run("malformed file asks nothing", func(t *testing.T) {
		bad := filepath.Join(dir, "malformed.jsonl")
		if err := os.WriteFile(bad, []byte(`{"id":"a","text":"x","relevant":["a"]}`+"\n"+`{"id":"b","text":"x"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		err := run(ctx, []string{"eval", "--addr", addr, "--queries", bad}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "line 2:") || !strings.Contains(err.Error(), "empty relevant") || out.Len() != 0 {
			t.Errorf("err = %v, out %q", err, out.String())
		}
	})
	t.Run("unknown space", func(t *testing.T) {
		err := run(ctx, []string{"eval", "--addr", addr, "--queries", queries, "--space", "nope", "--json"}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "9 of 9 queries failed") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"eval"}, {"eval", "--queries", queries, "-k", "0"}, {"eval", "--queries", queries, "extra"}} {
			if err := run(ctx, args, &out, &errOut); err == nil {
				t.Errorf("%v accepted", args)
			}
		}
	})
	// --report: the files exist, the plots decode, the page shows them and
	// report.md's numbers are the JSON's.
	t.Run("report", func(t *testing.T) {
		rdir := filepath.Join(t.TempDir(), "report")
		var out, errOut bytes.Buffer
		if err := run(ctx, []string{"eval", "--addr", addr, "--queries", queries, "-k", "3", "--json", "--report", rdir}, &out, &errOut); err != nil {
			t.Fatalf("eval --report: %v\n%s", err, errOut.String())
		}
		if !strings.Contains(errOut.String(), filepath.Join(rdir, "report.html")) {
			t.Errorf("report path not printed: %s", errOut.String())
		}
		var got eval.Result
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(rdir, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(filepath.Join(rdir, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		rows := []string{fmt.Sprintf("| all | %d | %s | %s | %s |", got.All.N, report.Num(got.All.Recall), report.Num(got.All.NDCG), report.Num(got.All.MRR))}
		for kind, a := range got.ByKind {
			rows = append(rows, fmt.Sprintf("| %s | %d | %s | %s | %s |", kind, a.N, report.Num(a.Recall), report.Num(a.NDCG), report.Num(a.MRR)))
		}
		for _, row := range rows {
			if !strings.Contains(string(md), row+"\n") {
				t.Errorf("report.md lacks the JSON's row %q:\n%s", row, md)
			}
		}
		for _, png := range []string{"metrics_vs_k.png", "ablation.png"} {
			f, err := os.Open(filepath.Join(rdir, png))
			if err != nil {
				t.Fatal(err)
			}
			img, err := pngDecode(f)
			f.Close()
			if err != nil || img.Bounds().Dx() < 100 {
				t.Fatalf("%s: %v", png, err)
			}
			if !strings.Contains(string(html), `src="`+png+`"`) || !strings.Contains(string(md), "]("+png+")") {
				t.Errorf("%s not referenced by the report", png)
			}
		}
		for _, row := range []string{"| text block alone |", "| image block alone |", "| lexical alone |", "| all (as served) |"} {
			if !strings.Contains(string(md), row) {
				t.Errorf("ablation lacks %q:\n%s", row, md)
			}
		}
		t.Logf("report.md:\n%s", md)
	})

	// The same server serves synthetic shoppers (package sim).
	t.Run("simulate", func(t *testing.T) {
		out.Reset()
		args := []string{"simulate", "--addr", addr, "--users", "5", "--requests", "2", "--query", "canvas sneaker", "--like", "guitar", "--category", "music"}
		if err := run(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("simulate: %v\n%s", err, errOut.String())
		}
		if !strings.HasPrefix(out.String(), "10 requests in ") || !strings.Contains(out.String(), "(0 failed)") || !strings.Contains(out.String(), "0 Record calls rejected") {
			t.Errorf("simulate printed %q", out.String())
		}
		if err := run(ctx, []string{"simulate", "--addr", addr}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no queries") {
			t.Errorf("simulate without queries: %v", err)
		}
	})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

var pngDecode = png.Decode
