package starter

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/omnirank/omnirank/extractors/internal/onnxgraph"
)

// TinyBERT builds a small BERT-architecture encoder with seeded random
// weights: word, position and token-type embeddings, LayerNorm, one
// single-head self-attention layer honouring attention_mask, residual and
// LayerNorm. It takes the Hugging Face inputs input_ids, attention_mask and
// token_type_ids (int64 [B,L]) and returns last_hidden_state [B,L,hidden].
// It is not trained: it exists to run real BERT-shaped graphs through the
// production wordpiece path in tests and benchmarks.
func TinyBERT(vocabSize, hidden, maxPositions int, seed uint64) ([]byte, error) {
	if vocabSize < 5 || hidden < 2 || maxPositions < 2 {
		return nil, fmt.Errorf("tiny bert: vocab %d, hidden %d, positions %d too small", vocabSize, hidden, maxPositions)
	}
	rng := rand.New(rand.NewPCG(seed, 0x62657274))
	randn := func(n int, scale float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(rng.NormFloat64() * scale)
		}
		return out
	}
	ones := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = 1
		}
		return out
	}
	h := int64(hidden)
	g := onnxgraph.New("tiny-bert")
	ids := g.Input("input_ids", onnxgraph.Int64, "batch", "sequence")
	mask := g.Input("attention_mask", onnxgraph.Int64, "batch", "sequence")
	types := g.Input("token_type_ids", onnxgraph.Int64, "batch", "sequence")

	word := g.Floats([]int64{int64(vocabSize), h}, randn(vocabSize*hidden, 1))
	pos := g.Floats([]int64{int64(maxPositions), h}, randn(maxPositions*hidden, 0.5))
	typ := g.Floats([]int64{2, h}, randn(2*hidden, 0.5))

	seqLen := g.Node("Gather", []string{g.Op("Shape", ids), g.IntScalar(1)}, onnxgraph.AInt("axis", 0))
	positions := g.Op("Range", g.IntScalar(0), seqLen, g.IntScalar(1))
	x := g.Op("Add", g.Op("Add",
		g.Node("Gather", []string{word, ids}, onnxgraph.AInt("axis", 0)),
		g.Node("Gather", []string{pos, positions}, onnxgraph.AInt("axis", 0))),
		g.Node("Gather", []string{typ, types}, onnxgraph.AInt("axis", 0)))
	ln := func(v string) string {
		return g.Node("LayerNormalization", []string{v, g.Floats([]int64{h}, ones(hidden)), g.Floats([]int64{h}, make([]float32, hidden))},
			onnxgraph.AInt("axis", -1), onnxgraph.AFloat("epsilon", 1e-12))
	}
	x = ln(x)
	w := func() string { return g.Floats([]int64{h, h}, randn(hidden*hidden, 1/math.Sqrt(float64(hidden)))) }
	q, k, v := g.Op("MatMul", x, w()), g.Op("MatMul", x, w()), g.Op("MatMul", x, w())
	kt := g.Node("Transpose", []string{k}, onnxgraph.AInts("perm", 0, 2, 1))
	scores := g.Op("Mul", g.Op("MatMul", q, kt), g.Scalar(float32(1/math.Sqrt(float64(hidden)))))
	maskF := g.Node("Cast", []string{mask}, onnxgraph.AInt("to", int64(onnxgraph.Float)))
	maskB := g.Op("Unsqueeze", maskF, g.Ints([]int64{1}, []int64{1})) // [B,1,L]
	bias := g.Op("Mul", g.Op("Sub", g.Scalar(1), maskB), g.Scalar(-10000))
	probs := g.Node("Softmax", []string{g.Op("Add", scores, bias)}, onnxgraph.AInt("axis", -1))
	att := g.Op("MatMul", g.Op("MatMul", probs, v), w())
	y := ln(g.Op("Add", x, att))
	g.Output(y, "last_hidden_state", onnxgraph.Float, "batch", "sequence", hidden)
	return g.Model(Opset, "omnirank-test", "tiny BERT-architecture encoder with random weights")
}
