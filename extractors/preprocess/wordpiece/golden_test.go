package wordpiece

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type golden struct {
	Text string  `json:"text"`
	IDs  []int64 `json:"ids"`
}

func loadGolden(t testing.TB) []golden {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("golden line %d: %v", len(out)+1, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadBERT(t testing.TB, opts ...Option) *Tokenizer {
	t.Helper()
	tok, err := Load(filepath.Join("testdata", "vocab.txt"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bertTokenizerJSON writes the tokenizer.json that scripts/golden-wordpiece
// hands to transformers.js, from the same vocab.txt, so the JSON loader is
// checked against the same golden ids.
func bertTokenizerJSON(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	vocab := make(map[string]int, len(lines))
	for i, l := range lines {
		vocab[l] = i
	}
	special := func(id int) map[string]any {
		return map[string]any{"id": id, "content": lines[id], "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
	}
	doc := map[string]any{
		"version":      "1.0",
		"added_tokens": []any{special(0), special(100), special(101), special(102), special(103)},
		"normalizer":   map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
		"pre_tokenizer": map[string]any{
			"type": "BertPreTokenizer",
		},
		"post_processor": map[string]any{
			"type": "TemplateProcessing",
			"single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}},
			},
		},
		"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab},
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGolden: ids equal transformers.js's on every golden sentence, loading
// either vocab.txt or tokenizer.json.
func TestGolden(t *testing.T) {
	gs := loadGolden(t)
	if len(gs) < 200 {
		t.Fatalf("only %d golden sentences", len(gs))
	}
	fromJSON, err := FromTokenizerJSON(bytes.NewReader(bertTokenizerJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]*Tokenizer{"vocab.txt": loadBERT(t), "tokenizer.json": fromJSON} {
		t.Run(name, func(t *testing.T) {
			if tok.VocabSize() != 30522 {
				t.Fatalf("vocab size %d", tok.VocabSize())
			}
			failed := 0
			for i, g := range gs {
				e, err := tok.Encode(g.Text, 0)
				if err != nil {
					t.Fatalf("sentence %d %q: %v", i, g.Text, err)
				}
				if !slices.Equal(e.IDs, g.IDs) {
					failed++
					if failed <= 10 {
						toks, _ := tok.Tokenize(g.Text)
						t.Errorf("sentence %d %.80q:\n got  %v\n want %v\n tokens %q", i, g.Text, e.IDs, g.IDs, toks)
					}
				}
				if len(e.AttentionMask) != len(e.IDs) || len(e.TypeIDs) != len(e.IDs) {
					t.Fatalf("sentence %d: mask/type lengths %d/%d for %d ids", i, len(e.AttentionMask), len(e.TypeIDs), len(e.IDs))
				}
			}
			if failed > 0 {
				t.Fatalf("%d of %d golden sentences differ", failed, len(gs))
			}
		})
	}
}

// TestGoldenTruncationAndWindows derives truncated encodings and windows
// from the golden ids.
func TestGoldenTruncationAndWindows(t *testing.T) {
	tok := loadBERT(t)
	long := 0
	for _, g := range loadGolden(t) {
		body := g.IDs[1 : len(g.IDs)-1]
		for _, maxLen := range []int{2, 3, 8, 16, 128} {
			e, err := tok.Encode(g.Text, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			n := min(len(body), maxLen-2)
			want := append(append([]int64{101}, body[:n]...), 102)
			if !slices.Equal(e.IDs, want) {
				t.Fatalf("%q maxLen %d: %v, want %v", g.Text, maxLen, e.IDs, want)
			}
		}
		if len(body) <= 30 {
			continue
		}
		long++
		for _, w := range []struct{ maxLen, stride int }{{16, 0}, {16, 4}, {32, 13}, {512, 128}} {
			ws, err := tok.EncodeWindows(g.Text, w.maxLen, w.stride)
			if err != nil {
				t.Fatal(err)
			}
			step := w.maxLen - 2 - w.stride
			var joined []int64
			for k, e := range ws {
				if len(e.IDs) > w.maxLen || e.IDs[0] != 101 || e.IDs[len(e.IDs)-1] != 102 {
					t.Fatalf("window %d: %v", k, e.IDs)
				}
				in := e.IDs[1 : len(e.IDs)-1]
				if k > 0 { // overlap with the previous window
					prev := ws[k-1].IDs[1 : len(ws[k-1].IDs)-1]
					if !slices.Equal(in[:w.stride], prev[step:]) {
						t.Fatalf("window %d does not overlap the previous one by %d", k, w.stride)
					}
					in = in[w.stride:]
				}
				joined = append(joined, in...)
			}
			if !slices.Equal(joined, body) {
				t.Fatalf("%q windows %+v do not cover the text", g.Text[:20], w)
			}
		}
	}
	if long < 3 {
		t.Fatalf("only %d golden sentences longer than 30 pieces", long)
	}
}

// TestGoldenChunked: cutting the text into tiny chunks at whitespace must
// not change a single id.
func TestGoldenChunked(t *testing.T) {
	tok := loadBERT(t)
	for _, size := range []int{1, 3, 17} {
		c := *tok
		c.chunk = size
		for _, g := range loadGolden(t) {
			e, err := c.Encode(g.Text, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.IDs, g.IDs) {
				t.Fatalf("chunk %d: %.80q: got %v, want %v", size, g.Text, e.IDs, g.IDs)
			}
		}
	}
}

// TestEncodeWindowsN: keeping the first n windows equals the first n of
// all windows.
func TestEncodeWindowsN(t *testing.T) {
	tok := loadBERT(t)
	gs := loadGolden(t)
	text := gs[len(gs)-1].Text // the long one
	all, err := tok.EncodeWindows(text, 64, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 {
		t.Fatalf("only %d windows", len(all))
	}
	for _, n := range []int{1, 2, 4, len(all), len(all) + 3} {
		got, err := tok.EncodeWindowsN(text, 64, 16, n)
		if err != nil {
			t.Fatal(err)
		}
		want := all[:min(n, len(all))]
		if len(got) != len(want) {
			t.Fatalf("n=%d: %d windows, want %d", n, len(got), len(want))
		}
		for i := range want {
			if !slices.Equal(got[i].IDs, want[i].IDs) {
				t.Fatalf("n=%d window %d differs", n, i)
			}
		}
	}
}
