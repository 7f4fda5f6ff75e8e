package samplecatalog

import (
	"errors"
	"testing"

	"github.com/omnirank/omnirank/eval"
)

func TestEvalQueries(t *testing.T) {
	qs := QuerySet{Queries: []Query{
		{ID: "image-1", Kind: "image", Path: "queries/image-1.png", Expect: "p1"},
		{ID: "audio-1", Kind: "audio", Path: "queries/audio-1.wav", Expect: "p2"},
		{ID: "text-1", Kind: "text", Text: "teapot", Expect: "p3"},
	}}
	got, err := EvalQueries(qs)
	if err != nil {
		t.Fatal(err)
	}
	want := []eval.Query{
		{ID: "image-1", Image: "image-1.png", Relevant: []string{"p1"}},
		{ID: "audio-1", Audio: "audio-1.wav", Relevant: []string{"p2"}},
		{ID: "text-1", Text: "teapot", Relevant: []string{"p3"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d queries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Text != w.Text || g.Image != w.Image || g.Audio != w.Audio || len(g.Relevant) != 1 || g.Relevant[0] != w.Relevant[0] {
			t.Errorf("query %d = %+v, want %+v", i, g, w)
		}
	}
	for name, q := range map[string]Query{
		"unknown kind": {ID: "x", Kind: "video", Expect: "p"},
		"no expect":    {ID: "x", Kind: "text", Text: "t"},
		"no path":      {ID: "x", Kind: "image", Expect: "p"},
	} {
		if _, err := EvalQueries(QuerySet{Queries: []Query{q}}); !errors.Is(err, ErrBadCatalog) {
			t.Errorf("%s: err = %v, want ErrBadCatalog", name, err)
		}
	}
}
