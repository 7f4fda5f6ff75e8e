package bench_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/bench"
)

func TestBenchExtractSmall(t *testing.T) {
	res, err := bench.BenchExtract(context.Background(), bench.BenchOptions{BatchSize: 4, Items: 8, Clients: 2, IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if r.Modality != string(extractors.Modalities[i]) || r.BatchSize != 4 || r.Items != 8 {
			t.Fatalf("result %d: %+v", i, r)
		}
		if !(r.PipelineItemsPerS > 0 && r.BareItemsPerS > 0) || r.Ratio != r.PipelineItemsPerS/r.BareItemsPerS {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if _, err := bench.BenchExtract(context.Background(), bench.BenchOptions{BatchSize: -1}); err == nil {
		t.Fatal("negative batch size: no error")
	}
}

var fixture struct {
	once sync.Once
	f    *bench.Fixture
	err  error
}

const benchBatch = 32

func getFixture(b *testing.B) *bench.Fixture {
	fixture.once.Do(func() {
		st, err := extractors.NewDirStore(b.TempDir())
		if err != nil {
			fixture.err = err
			return
		}
		fixture.f, fixture.err = bench.NewFixture(context.Background(), st, bench.BenchOptions{BatchSize: benchBatch, Items: 256})
	})
	if fixture.err != nil {
		b.Fatal(fixture.err)
	}
	return fixture.f
}

// BenchmarkExtract compares, per modality and at batch 32, the whole path
// from object bytes to pooled vectors with the bare session on ready
// tensors. Items/s are reported as a metric.
//
//	go test -run '^$' -bench . -benchtime 20x ./extractors/bench/
func BenchmarkExtract(b *testing.B) {
	f := getFixture(b)
	ctx := context.Background()
	for _, m := range extractors.Modalities {
		b.Run(fmt.Sprintf("%s/pipeline", m), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := f.Pipeline(ctx, m, benchBatch*4); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch*4)/b.Elapsed().Seconds(), "items/s")
		})
		b.Run(fmt.Sprintf("%s/bare", m), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := f.Bare(ctx, m, 4); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch*4)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.f != nil {
		if err := fixture.f.Close(); err != nil {
			fmt.Println("close bench fixture:", err)
			code = 1
		}
	}
	os.Exit(code)
}
