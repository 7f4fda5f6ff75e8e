package extractbench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/bench/extractbench"
	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/extractors/starter"
)

func TestBenchExtractSmall(t *testing.T) {
	res, err := extractbench.BenchExtract(context.Background(), extractbench.BenchOptions{BatchSize: 4, Items: 8, Clients: 2, IntraOpThreads: 1})
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
	if _, err := extractbench.BenchExtract(context.Background(), extractbench.BenchOptions{BatchSize: -1}); err == nil {
		t.Fatal("negative batch size: no error")
	}
}

// tinyBERTDir writes a BERT-shaped model folder (random weights, a small
// WordPiece vocabulary, mean pooling) as a user would before registering
// a real export.
func tinyBERTDir(t *testing.T) string {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "blue", "shoe", "##s", "leather", "wool", "jacket", "coat", "tea", "mug"}
	model, err := starter.TinyBERT(len(vocab), 16, 64, 3)
	if err != nil {
		t.Fatal(err)
	}
	man := manifest.Manifest{
		Name: "tiny-bert", Version: "2", Modality: "text", Licence: "Apache-2.0",
		Inputs: []manifest.Input{
			{Name: "input_ids", Role: manifest.RoleInputIDs, Layout: "BL"},
			{Name: "attention_mask", Role: manifest.RoleAttentionMask, Layout: "BL"},
			{Name: "token_type_ids", Role: manifest.RoleTokenTypeIDs, Layout: "BL"},
		},
		Outputs: []manifest.Output{{Name: "last_hidden_state", Pooling: manifest.PoolMean}},
		Dim:     16,
		Preprocess: manifest.Preprocessing{Text: &manifest.TextPre{
			Tokenizer: manifest.TokenizerWordPiece, Vocab: "vocab.txt", MaxLength: 32, Lowercase: true,
		}},
	}
	mb, err := man.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		manifest.ModelFile: model, manifest.FileName: mb, "vocab.txt": []byte(strings.Join(vocab, "\n") + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBenchExtractModelDir: a model folder is registered and measured for
// its own modality only, bare path included (a WordPiece model, which the
// bare path builds with the encoder's own tokenizer).
func TestBenchExtractModelDir(t *testing.T) {
	res, err := extractbench.BenchExtract(context.Background(), extractbench.BenchOptions{
		BatchSize: 4, Items: 8, Clients: 2, IntraOpThreads: 1, ModelDirs: []string{tinyBERTDir(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Modality != "text" || res[0].Model != "tiny-bert@2" || !(res[0].PipelineItemsPerS > 0 && res[0].BareItemsPerS > 0) {
		t.Fatalf("results %+v, want one text result for tiny-bert@2", res)
	}
	// An explicit modality list keeps the starters for the others.
	res, err = extractbench.BenchExtract(context.Background(), extractbench.BenchOptions{
		BatchSize: 4, Items: 8, Clients: 2, IntraOpThreads: 1, ModelDirs: []string{tinyBERTDir(t)},
		Modalities: []extractors.Modality{extractors.Image, extractors.Text},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Model != extractors.StarterID(extractors.Image) || res[1].Model != "tiny-bert@2" {
		t.Fatalf("results %+v, want starter image then tiny-bert@2", res)
	}
	if _, err := extractbench.BenchExtract(context.Background(), extractbench.BenchOptions{Items: 4, ModelDirs: []string{t.TempDir()}}); err == nil {
		t.Fatal("empty model folder: no error")
	}
}

var fixture struct {
	once sync.Once
	f    *extractbench.Fixture
	err  error
}

const benchBatch = 32

func getFixture(b *testing.B) *extractbench.Fixture {
	fixture.once.Do(func() {
		st, err := extractors.NewDirStore(b.TempDir())
		if err != nil {
			fixture.err = err
			return
		}
		fixture.f, fixture.err = extractbench.NewFixture(context.Background(), st, extractbench.BenchOptions{BatchSize: benchBatch, Items: 256})
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
//	go test -run '^$' -bench . -benchtime 20x ./bench/extractbench/
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

func TestBenchSpeechSmall(t *testing.T) {
	if err := speech.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	res, err := extractbench.BenchExtract(context.Background(), extractbench.BenchOptions{Speech: true, SpeechItems: 4, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d results, want speech alone: %+v", len(res), res)
	}
	r := res[0]
	if r.Modality != "speech" || r.Items != 4 || !(r.PipelineItemsPerS > 0 && r.BareItemsPerS > 0) ||
		!(r.MsPerAudioSecondP50 > 0 && r.MsPerAudioSecondP99 >= r.MsPerAudioSecondP50) || r.AudioSecondsPerItem < 0.5 {
		t.Fatalf("%+v", r)
	}
}
