package extractors_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/starter"
)

// tinyVocab is a WordPiece vocabulary: specials, some words, letters and
// their continuations.
func tinyVocab() []string {
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", ".", "!"}
	v = append(v, "red", "blue", "running", "shoe", "##s", "knife", "steel", "chef", "tea", "green", "the", "a", "for", "with")
	for c := 'a'; c <= 'z'; c++ {
		v = append(v, string(c), "##"+string(c))
	}
	return v
}

// tinyBERTFolder writes a model folder holding the project's tiny BERT
// graph, a vocab.txt and a manifest, as a user would before registering it.
func tinyBERTFolder(t *testing.T, name, pooling string, maxLen, stride int) string {
	t.Helper()
	dir := t.TempDir()
	vocab := tinyVocab()
	model, err := starter.TinyBERT(len(vocab), 32, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	man := manifest.Manifest{
		Name: name, Version: "1", Modality: "text", Licence: "Apache-2.0",
		Inputs: []manifest.Input{
			{Name: "input_ids", Role: manifest.RoleInputIDs, Layout: "BL"},
			{Name: "attention_mask", Role: manifest.RoleAttentionMask, Layout: "BL"},
			{Name: "token_type_ids", Role: manifest.RoleTokenTypeIDs, Layout: "BL"},
		},
		Outputs: []manifest.Output{{Name: "last_hidden_state", Pooling: pooling}},
		Dim:     32,
		Preprocess: manifest.Preprocessing{Text: &manifest.TextPre{
			Tokenizer: manifest.TokenizerWordPiece, Vocab: "vocab.txt", MaxLength: maxLen, Lowercase: true, Stride: stride,
		}},
	}
	mb, err := man.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"model.onnx": model, "manifest.json": mb, "vocab.txt": []byte(strings.Join(vocab, "\n") + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWordPieceBERTEncoder(t *testing.T) {
	ctx := context.Background()
	st, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st, extractors.WithSession(ort.WithDevice(ort.DeviceCPU)), extractors.WithBatching(batch.WithMaxBatch(4)))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, c := range []struct {
		name, pooling string
	}{{"tiny-bert-mean", manifest.PoolMean}, {"tiny-bert-cls", manifest.PoolCLS}} {
		t.Run(c.name, func(t *testing.T) {
			man, err := reg.Register(ctx, tinyBERTFolder(t, c.name, c.pooling, 16, 4))
			if err != nil {
				t.Fatal(err)
			}
			enc, err := reg.Encoder(ctx, man.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			if enc.Model() != c.name+"@1" || enc.Dim() != 32 || enc.Modality() != extractors.Text {
				t.Fatalf("encoder %s dim %d modality %s", enc.Model(), enc.Dim(), enc.Modality())
			}
			short := "red running shoes"
			long := "the green tea for a chef with a steel knife, blue shoes."
			alone, err := enc.Encode(ctx, [][]byte{[]byte(short)})
			if err != nil {
				t.Fatal(err)
			}
			// In a batch with a longer text the short one is padded: the
			// attention mask must make the padding invisible.
			padded, err := enc.Encode(ctx, [][]byte{[]byte(long), []byte(short), []byte("tea")})
			if err != nil {
				t.Fatal(err)
			}
			checkUnit(t, append(alone, padded...), 32)
			if s := dot(alone[0], padded[1]); s < 0.9999 {
				t.Fatalf("padding changed the vector: cosine %v", s)
			}
			if s := dot(padded[0], padded[1]); s > 0.999 {
				t.Fatalf("different texts give the same vector: cosine %v", s)
			}
			// A text longer than max_length is covered by several windows
			// whose vectors are averaged, so it differs from its first part.
			longer := strings.Repeat("red running shoes with steel. ", 3) + strings.Repeat("green tea for a chef. ", 4)
			whole, err := enc.Encode(ctx, [][]byte{[]byte(longer), []byte(longer[:29])})
			if err != nil {
				t.Fatal(err)
			}
			checkUnit(t, whole, 32)
			if s := dot(whole[0], whole[1]); s > 0.999 {
				t.Fatalf("windowed long text equals its first window: cosine %v", s)
			}
			_, err = enc.Encode(ctx, [][]byte{[]byte("ok"), {'a', 0xc3, 0x28}})
			if !errors.Is(err, extractors.ErrBadInput) || !strings.Contains(err.Error(), "input 1:") {
				t.Fatalf("invalid UTF-8: err = %v", err)
			}
		})
	}
}
