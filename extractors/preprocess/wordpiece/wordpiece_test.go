package wordpiece

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/omnirank/omnirank/extractors/preprocess"
)

// tinyVocab has hand-picked pieces so that expected splits can be worked
// out by hand.
const tinyVocab = `[PAD]
[UNK]
[CLS]
[SEP]
[MASK]
un
una
##aff
##able
##ffable
##a
##b
a
b
c
cafe
café
hello
##llo
he
,
!
中
σοφος
σοφοσ
ii
`

func tiny(t testing.TB, opts ...Option) *Tokenizer {
	t.Helper()
	tok, err := FromVocab(strings.NewReader(tinyVocab), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenizeTinyVocab(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		text string
		want []string
	}{
		{"longest match first", nil, "unaffable", []string{"una", "##ffable"}},
		{"continuations", nil, "heab", []string{"he", "##a", "##b"}},
		{"unknown piece makes the whole word unk", nil, "unaffablex", []string{"[UNK]"}},
		{"punctuation splits", nil, "hello,hello!", []string{"hello", ",", "hello", "!"}},
		{"lowercase and strip accents", nil, "CAFÉ Café", []string{"cafe", "cafe"}},
		{"keep accents when asked", []Option{WithStripAccents(false)}, "CAFÉ", []string{"café"}},
		{"cased keeps capitals", []Option{WithLowercase(false)}, "Hello hello", []string{"[UNK]", "hello"}},
		{"cjk split without spaces", nil, "a中b", []string{"a", "中", "b"}},
		{"supplementary cjk split too", nil, "a\U00020000b", []string{"a", "[UNK]", "b"}},
		{"controls dropped", nil, "he\x00llo\u200b", []string{"hello"}},
		{"replacement char dropped", nil, "he\ufffdllo", []string{"hello"}},
		{"whitespace variants split", nil, "a\u00a0b\u3000c\td\ne", []string{"a", "b", "c", "[UNK]", "[UNK]"}},
		{"final sigma", nil, "ΣΟΦΟΣ", []string{"σοφος"}},
		{"non-final sigma before apostrophe and letter", nil, "ΣΟΦΟΣ'Α", []string{"σοφοσ", "[UNK]", "[UNK]"}},
		{"dotted capital I", nil, "İİ", []string{"ii"}},
		{"word over 100 chars", nil, strings.Repeat("a", 101), []string{"[UNK]"}},
		{"word of exactly 100 chars", nil, strings.Repeat("a", 100), append([]string{"a"}, slices.Repeat([]string{"##a"}, 99)...)},
		{"custom word limit", []Option{WithMaxInputCharsPerWord(3)}, "abab aba", []string{"[UNK]", "a", "##b", "##a"}},
		{"special tokens verbatim", nil, "a[SEP]b [MASK]", []string{"a", "[SEP]", "b", "[MASK]"}},
		{"lowercase special is text", nil, "[sep]", []string{"[UNK]", "[UNK]", "[UNK]"}},
		{"split special tokens", []Option{WithSplitSpecialTokens(true)}, "[SEP]", []string{"[UNK]", "[UNK]", "[UNK]"}},
		{"empty", nil, "", nil},
		{"only spaces", nil, " \t\n ", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tiny(t, tc.opts...).Tokenize(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Tokenize(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestEncodeShape(t *testing.T) {
	tok := tiny(t)
	e, err := tok.Encode("hello, hello!", 0)
	if err != nil {
		t.Fatal(err)
	}
	// [CLS]=2 hello=17 ,=20 hello=17 !=21 [SEP]=3
	if want := []int64{2, 17, 20, 17, 21, 3}; !slices.Equal(e.IDs, want) {
		t.Fatalf("ids %v, want %v", e.IDs, want)
	}
	if !slices.Equal(e.AttentionMask, []int64{1, 1, 1, 1, 1, 1}) || !slices.Equal(e.TypeIDs, make([]int64, 6)) {
		t.Fatalf("mask %v types %v", e.AttentionMask, e.TypeIDs)
	}
	p := e.Pad(8, tok.PadID())
	if !slices.Equal(p.IDs, []int64{2, 17, 20, 17, 21, 3, 0, 0}) || !slices.Equal(p.AttentionMask, []int64{1, 1, 1, 1, 1, 1, 0, 0}) || p.Len() != 8 {
		t.Fatalf("padded %+v", p)
	}
	if e.Len() != 6 {
		t.Fatal("Pad changed its receiver")
	}
	tr, err := tok.Encode("hello, hello!", 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 17, 20, 3}; !slices.Equal(tr.IDs, want) {
		t.Fatalf("truncated %v, want %v", tr.IDs, want)
	}
	if tok.CLSID() != 2 || tok.SEPID() != 3 || tok.UNKID() != 1 || tok.PadID() != 0 {
		t.Fatal("special ids")
	}
	if id, ok := tok.TokenToID("##ffable"); !ok || id != 9 || tok.IDToToken(9) != "##ffable" {
		t.Fatalf("TokenToID(##ffable) = %d, %v", id, ok)
	}
	if _, ok := tok.TokenToID("nope"); ok {
		t.Fatal("unknown token found")
	}
	if tok.IDToToken(-1) != "" || tok.IDToToken(1000) != "" {
		t.Fatal("IDToToken out of range")
	}
}

func TestBadInputAndArguments(t *testing.T) {
	tok := tiny(t)
	for _, text := range []string{"\xff", "hello \xc3", "ok\xed\xa0\x80"} {
		if _, err := tok.Encode(text, 16); !errors.Is(err, preprocess.ErrBadInput) {
			t.Errorf("Encode(%q): err = %v, want ErrBadInput", text, err)
		}
		if _, err := tok.EncodeWindows(text, 16, 2); !errors.Is(err, preprocess.ErrBadInput) {
			t.Errorf("EncodeWindows(%q): err = %v, want ErrBadInput", text, err)
		}
		if _, err := tok.Encode(text, 2); !errors.Is(err, preprocess.ErrBadInput) {
			t.Errorf("Encode(%q, 2): err = %v, want ErrBadInput", text, err)
		}
	}
	argCases := []struct {
		name string
		call func() error
	}{
		{"maxLen 1", func() error { _, err := tok.Encode("a", 1); return err }},
		{"window maxLen 2", func() error { _, err := tok.EncodeWindows("a", 2, 0); return err }},
		{"negative stride", func() error { _, err := tok.EncodeWindows("a", 8, -1); return err }},
		{"stride without progress", func() error { _, err := tok.EncodeWindows("a", 8, 6); return err }},
		{"zero word limit", func() error {
			_, err := FromVocab(strings.NewReader(tinyVocab), WithMaxInputCharsPerWord(0))
			return err
		}},
		{"nil option", func() error { _, err := FromVocab(strings.NewReader(tinyVocab), nil); return err }},
	}
	for _, tc := range argCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrBadArgument) {
				t.Fatalf("err = %v, want ErrBadArgument", err)
			}
		})
	}
}

func TestBadVocab(t *testing.T) {
	cases := []struct {
		name string
		load func() error
	}{
		{"empty vocab", func() error { _, err := FromVocab(strings.NewReader("")); return err }},
		{"no unk", func() error { _, err := FromVocab(strings.NewReader("[PAD]\n[CLS]\n[SEP]\na\n")); return err }},
		{"invalid utf-8 line", func() error { _, err := FromVocab(strings.NewReader("[UNK]\n\xff\n")); return err }},
		{"json garbage", func() error { _, err := FromTokenizerJSON(strings.NewReader("{not json")); return err }},
		{"json bpe model", func() error {
			_, err := FromTokenizerJSON(strings.NewReader(`{"model":{"type":"BPE","vocab":{"a":0}}}`))
			return err
		}},
		{"json unknown normalizer", func() error {
			_, err := FromTokenizerJSON(strings.NewReader(`{"normalizer":{"type":"NFKC"},"model":{"type":"WordPiece","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"[PAD]":3}}}`))
			return err
		}},
		{"json sparse ids", func() error {
			_, err := FromTokenizerJSON(strings.NewReader(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"[PAD]":9999999}}}`))
			return err
		}},
		{"json negative id", func() error {
			_, err := FromTokenizerJSON(strings.NewReader(`{"model":{"type":"WordPiece","vocab":{"[UNK]":-1}}}`))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.load(); !errors.Is(err, ErrBadVocab) {
				t.Fatalf("err = %v, want ErrBadVocab", err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestTokenizerJSONBertProcessing(t *testing.T) {
	const doc = `{"added_tokens":[{"id":0,"content":"<s>","special":true}],
	  "normalizer":{"type":"BertNormalizer","lowercase":false,"strip_accents":null},
	  "post_processor":{"type":"BertProcessing","cls":["<s>",0],"sep":["</s>",1]},
	  "padding":{"pad_token":"<pad>"},
	  "model":{"type":"WordPiece","unk_token":"<unk>","continuing_subword_prefix":"@@","vocab":{"<s>":0,"</s>":1,"<pad>":2,"<unk>":3,"Ab":4,"@@c":5}}}`
	tok, err := FromTokenizerJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	e, err := tok.Encode("Abc ab <s>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 4, 5, 3, 0, 1}; !slices.Equal(e.IDs, want) {
		t.Fatalf("ids %v, want %v", e.IDs, want)
	}
	if tok.PadID() != 2 {
		t.Fatalf("pad id %d", tok.PadID())
	}
}

func TestEmptyContinuationPrefix(t *testing.T) {
	const doc = `{"model":{"type":"WordPiece","continuing_subword_prefix":"",
	  "vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"[PAD]":3,"ab":4,"c":5}}}`
	tok, err := FromTokenizerJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.Tokenize("abc cab")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ab", "c", "c", "ab"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	tok := loadBERT(t)
	gs := loadGolden(t)
	done := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for _, g := range gs {
				e, err := tok.Encode(g.Text, 0)
				if err == nil && !slices.Equal(e.IDs, g.IDs) {
					err = errors.New("mismatch for " + g.Text)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzEncode checks invariants on arbitrary text: invalid UTF-8 is
// ErrBadInput; otherwise ids are in range, framed by [CLS] / [SEP], truncation
// is a prefix of the full encoding and windows cover it.
func FuzzEncode(f *testing.F) {
	tok := loadBERT(f)
	for _, g := range loadGolden(f) {
		if len(g.Text) < 300 {
			f.Add(g.Text)
		}
	}
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, text string) {
		full, err := tok.Encode(text, 0)
		if !utf8.ValidString(text) {
			if !errors.Is(err, preprocess.ErrBadInput) {
				t.Fatalf("invalid UTF-8: err = %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		n := len(full.IDs)
		if n < 2 || full.IDs[0] != tok.CLSID() || full.IDs[n-1] != tok.SEPID() {
			t.Fatalf("not framed: %v", full.IDs)
		}
		for _, id := range full.IDs {
			if id < 0 || id >= int64(tok.VocabSize()) || tok.IDToToken(id) == "" {
				t.Fatalf("id %d out of range", id)
			}
		}
		tr, err := tok.Encode(text, 10)
		if err != nil {
			t.Fatal(err)
		}
		k := min(n-2, 8)
		if !slices.Equal(tr.IDs[:k+1], full.IDs[:k+1]) || tr.IDs[len(tr.IDs)-1] != tok.SEPID() || len(tr.IDs) != k+2 {
			t.Fatalf("truncation %v is not a prefix of %v", tr.IDs, full.IDs)
		}
		ws, err := tok.EncodeWindows(text, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		var joined []int64
		for i, w := range ws {
			in := w.IDs[1 : len(w.IDs)-1]
			if i > 0 {
				in = in[3:]
			}
			joined = append(joined, in...)
		}
		if !slices.Equal(joined, full.IDs[1:n-1]) {
			t.Fatalf("windows do not cover the text")
		}
	})
}
