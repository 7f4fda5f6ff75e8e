package extractors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/starter"
)

// TestEncodeAcrossChunks: a call larger than MaxBatch is fed to the
// batcher chunk by chunk while later chunks are still being preprocessed;
// results stay in input order, equal to encoding each input alone, and
// the lowest bad index is reported whichever chunk it is in.
func TestEncodeAcrossChunks(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, extractors.WithBatching(batch.WithMaxBatch(3)), extractors.WithPreprocessWorkers(2))
	enc := defaultEncoder(t, reg, extractors.Text)
	var inputs [][]byte
	for i := range 11 {
		inputs = append(inputs, []byte(fmt.Sprintf("product %d red shoe size %d", i, 30+i)))
	}
	got, err := enc.Encode(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(inputs) {
		t.Fatalf("%d vectors for %d inputs", len(got), len(inputs))
	}
	for i, in := range inputs {
		one, err := enc.Encode(ctx, [][]byte{in})
		if err != nil {
			t.Fatal(err)
		}
		if d := dot(one[0], got[i]); d < 0.99999 {
			t.Fatalf("input %d: cosine %v between the batched and the lone encoding", i, d)
		}
	}
	cases := []struct {
		name string
		bad  []int
		want int
	}{
		{"first chunk", []int{1}, 1},
		{"last chunk", []int{10}, 10},
		{"two chunks", []int{9, 4}, 4},
		{"every chunk", []int{0, 3, 6, 9}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([][]byte(nil), inputs...)
			for _, i := range c.bad {
				in[i] = []byte("  !!  ")
			}
			_, err := enc.Encode(ctx, in)
			if !errors.Is(err, extractors.ErrBadInput) || !strings.Contains(err.Error(), fmt.Sprintf("input %d:", c.want)) {
				t.Fatalf("err = %v, want ErrBadInput naming input %d", err, c.want)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := enc.Encode(cctx, inputs); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
}

// TestBatchInputs: the bare-session tensors are the encoder's own: for
// starter-text, the tokenizer's ids and weights of each text, padded with
// zeros to the longest; an encoder from elsewhere and an empty batch are
// refused, and a bad input names its index.
func TestBatchInputs(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	enc := defaultEncoder(t, reg, extractors.Text)
	texts := []string{"red shoe", "Wireless noise-cancelling headphones with USB-C case", "tea"}
	raw := make([][]byte, len(texts))
	for i, s := range texts {
		raw[i] = []byte(s)
	}
	in, err := extractors.BatchInputs(ctx, enc, raw)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := starter.NewHashTokenizer(starter.TextBuckets, starter.TextMaxLength)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 2 || len(in[0].Shape) != 2 || in[0].Shape[0] != int64(len(texts)) {
		t.Fatalf("inputs %+v", in)
	}
	l := int(in[0].Shape[1])
	maxLen := 0
	for i, s := range texts {
		ids, ws, err := tok.Features(s)
		if err != nil {
			t.Fatal(err)
		}
		maxLen = max(maxLen, len(ids))
		wantIDs := append(ids, make([]int64, l-len(ids))...)
		wantWs := append(ws, make([]float32, l-len(ws))...)
		if !slices.Equal(in[0].Int64[i*l:(i+1)*l], wantIDs) || !slices.Equal(in[1].Float32[i*l:(i+1)*l], wantWs) {
			t.Fatalf("row %d differs from the tokenizer's features", i)
		}
	}
	if l != maxLen {
		t.Fatalf("padded to %d, longest text has %d features", l, maxLen)
	}
	if _, err := extractors.BatchInputs(ctx, enc, nil); err == nil {
		t.Fatal("empty batch: no error")
	}
	if _, err := extractors.BatchInputs(ctx, enc, [][]byte{[]byte("ok"), []byte(" !! ")}); !errors.Is(err, extractors.ErrBadInput) || !strings.Contains(err.Error(), "input 1:") {
		t.Fatalf("bad input: err = %v", err)
	}
}
