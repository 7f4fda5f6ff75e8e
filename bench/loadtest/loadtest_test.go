package loadtest_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/omnirank/omnirank/bench/loadtest"
)

// TestMain checks for leaked goroutines. fasthttp (under the embedded S3
// gateway, which the target runs since it starts through server.Start) is
// not ours: it keeps one process-wide goroutine that updates its Date
// header, and its worker pool's cleaner notices a stop only after its
// current sleep (up to 10 s).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestBenchRecommendSmall drives a 1,000-product ranker at 100 requests/s
// for a second per query kind (the text kind through the real starter
// model in ONNX Runtime): every request is answered without error, and the
// served, shed and failed counts add up to the requests scheduled.
func TestBenchRecommendSmall(t *testing.T) {
	res, err := loadtest.BenchRecommend(t.Context(), loadtest.BenchRecommendOptions{
		Products: 1000, Rates: []int{100}, Duration: time.Second, Warmup: 200 * time.Millisecond,
		Conns: 2, Dir: t.TempDir(), Logger: testLogger(),
		// Room for every request at once: this test checks answers, not
		// shedding, on a machine that -race and other work may slow.
		RankerMaxInFlight: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("got %d results, want one per query kind: %+v", len(res), res)
	}
	for i, want := range []loadtest.QueryKind{loadtest.QueryVector, loadtest.QueryText} {
		r := res[i]
		if r.Query != string(want) || r.RateRPS != 100 || r.Products != 1000 {
			t.Fatalf("result %d: %+v", i, r)
		}
		if r.Requests != 100 || r.Errors != 0 || r.Shed != 0 || r.Served != 100 || len(r.ErrorCodes) != 0 {
			t.Fatalf("%s: %d requests, %d served, %d shed, %d errors %v (%s)", r.Query, r.Requests, r.Served, r.Shed, r.Errors, r.ErrorCodes, r.FirstError)
		}
		if r.Served+r.Shed+r.Errors != r.Requests {
			t.Fatalf("%s: served %d + shed %d + errors %d != %d requests", r.Query, r.Served, r.Shed, r.Errors, r.Requests)
		}
		if !(r.P50Ms > 0 && r.P50Ms <= r.P99Ms && r.P99Ms <= r.P999Ms && r.P999Ms <= r.MaxMs) {
			t.Fatalf("%s: percentiles out of order: %+v", r.Query, r)
		}
		if r.AchievedRPS <= 0 {
			t.Fatalf("%s: achieved %v rps", r.Query, r.AchievedRPS)
		}
		if r.CPUMsPerRequest <= 0 || math.IsNaN(r.CPUMsPerRequest) {
			t.Fatalf("%s: %v ms of CPU per request", r.Query, r.CPUMsPerRequest)
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"rate_rps", "achieved_rps", "p50_ms", "p99_ms", "p999_ms", "served", "shed", "shed_pct", "errors", "requests", "products"} {
			if _, ok := fields[f]; !ok {
				t.Fatalf("JSON %s lacks %q", data, f)
			}
		}
	}
}

func TestBenchRecommendOptions(t *testing.T) {
	cases := []struct {
		name string
		o    loadtest.BenchRecommendOptions
	}{
		{"too few products", loadtest.BenchRecommendOptions{Products: 5}},
		{"zero rate", loadtest.BenchRecommendOptions{Rates: []int{500, 0}}},
		{"short duration", loadtest.BenchRecommendOptions{Duration: time.Millisecond}},
		{"bad query kind", loadtest.BenchRecommendOptions{Queries: []loadtest.QueryKind{"audio"}}},
		{"too many conns", loadtest.BenchRecommendOptions{Conns: 1000}},
		{"lambda over 1", loadtest.BenchRecommendOptions{MMRLambda: 1.5}},
		{"category share over 1", loadtest.BenchRecommendOptions{CategoryShare: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadtest.BenchRecommend(t.Context(), c.o)
			if !errors.Is(err, loadtest.ErrInvalidOptions) {
				t.Fatalf("err %v, want ErrInvalidOptions", err)
			}
		})
	}
}

// BenchmarkBenchRecommend runs the full load benchmark once (100,000
// products, 500 and 2,000 requests/s for 10 s each, vector and text
// queries) and logs the result table; -short uses 10,000 products and 2 s
// runs. With OMNIRANK_LOADTEST_PROFILE=<file> it writes a CPU profile of
// the measured phase only (not of the index build);
// OMNIRANK_LOADTEST_RATES=50,100,... replaces the default rates.
//
//	go test -run '^$' -bench BenchmarkBenchRecommend -benchtime 1x -timeout 30m ./bench/loadtest/
func BenchmarkBenchRecommend(b *testing.B) {
	o := loadtest.BenchRecommendOptions{Dir: b.TempDir(), Logger: testLogger()}
	if rates := os.Getenv("OMNIRANK_LOADTEST_RATES"); rates != "" {
		for _, f := range strings.Split(rates, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("OMNIRANK_LOADTEST_RATES: %v", err)
			}
			o.Rates = append(o.Rates, r)
		}
	}
	if path := os.Getenv("OMNIRANK_LOADTEST_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		o.CPUProfile = f
	}
	if testing.Short() {
		o.Products, o.Duration = 10_000, 2*time.Second
	}
	res, err := loadtest.BenchRecommend(b.Context(), o)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		data, _ := json.Marshal(r)
		b.Logf("%s", data)
	}
	for b.Loop() {
	}
}
