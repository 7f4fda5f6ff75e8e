package extractors_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/extractors"
)

// TestEncodeAcrossChunks: a call larger than MaxBatch is fed to the
// batcher chunk by chunk while later chunks are still being preprocessed;
// results stay in input order, equal to encoding each input alone, and
// the lowest bad index is reported whichever chunk it is in.
func TestEncodeAcrossChunks(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, extractors.WithMaxBatch(3), extractors.WithPreprocessWorkers(2))
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
