package eval

import (
	"strings"
	"testing"
)

func TestWordErrors(t *testing.T) {
	for _, c := range []struct {
		said, heard   string
		errors, words int
	}{
		{"red running shoes", "red running shoes", 0, 3},
		{"Red Running Shoes!", "red running shoes", 0, 3}, // normalised alike
		{"red running shoes", "red running", 1, 3},        // a deletion
		{"red running shoes", "bed running shoes now", 2, 3},
		{"red running shoes", "", 3, 3},
		{"", "anything", 1, 0},
	} {
		e, w := WordErrors(c.said, c.heard)
		if e != c.errors || w != c.words {
			t.Errorf("WordErrors(%q, %q) = %d, %d; want %d, %d", c.said, c.heard, e, w, c.errors, c.words)
		}
	}
}

func TestSummariseSpeech(t *testing.T) {
	heard := func(s string) *string { return &s }
	res := Summarise("s", 10, []QueryResult{
		{ID: "a", Kind: KindAudio, Heard: heard("red running shoes"), WordErrors: 0, SaidWords: 3},
		{ID: "b", Kind: KindAudio, Heard: heard(""), WordErrors: 2, SaidWords: 2},
		{ID: "c", Kind: KindAudio, Heard: heard("teapot")},                      // no reference
		{ID: "d", Kind: KindAudio, Heard: heard("x"), Error: "recommend: boom"}, // failed: not counted
		{ID: "e", Kind: KindText},
	})
	sp := res.Speech
	if sp == nil {
		t.Fatal("no speech scores")
	}
	if sp.Transcribed != 3 || sp.WithSaid != 2 || sp.Empty != 1 || sp.WER != 2.0/5 {
		t.Fatalf("speech = %+v; want 3 transcribed, 2 with said, 1 empty, WER 0.4", *sp)
	}
	if Summarise("s", 10, []QueryResult{{ID: "e", Kind: KindText}}).Speech != nil {
		t.Fatal("speech scores without any transcript")
	}
}

func TestSaidNeedsAudio(t *testing.T) {
	_, err := ParseQueries(strings.NewReader(`{"id":"q","text":"shoes","said":"shoes","relevant":["p1"]}`+"\n"), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "said without audio") {
		t.Fatalf("err = %v; want said without audio", err)
	}
}
