package starter

import (
	"context"
	"fmt"
	"math"

	"github.com/omnirank/omnirank/extractors/internal/onnxgraph"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/wordnet"
	"github.com/omnirank/omnirank/wordnet/wordvec"
)

// starter-text@2: WordNet word vectors beside starter-text@1's hashed
// n-grams.
const (
	Text2Version = "2"
	// Text2WordWeight is the default Text2Config.WordWeight.
	Text2WordWeight = 1.25
)

// Text2Config says how starter-text@2 is built.
type Text2Config struct {
	WordNetDir string // "" = wordnet.DefaultDir
	Vocab      wordvec.VocabConfig
	Vectors    wordvec.Config
	// WordWeight scales the word-vector block against the n-gram block
	// (each L2-normalised first) before the final normalisation; > 0.
	WordWeight float64
}

// DefaultText2 is the configuration `omnirank models build-starter` uses.
var DefaultText2 = Text2Config{Vocab: wordvec.DefaultVocab, Vectors: wordvec.Default, WordWeight: Text2WordWeight}

// Text2ID is starter-text@2's "name@version".
const Text2ID = TextName + "@" + Text2Version

// Text2 is a built starter-text@2 model folder.
type Text2 struct {
	Model    []byte // model.onnx
	Vocab    []byte // WordVocabFile
	Manifest manifest.Manifest
	Words    int // vocabulary size
}

// Files are the folder's files besides manifest.json.
func (t Text2) Files() map[string][]byte {
	return map[string][]byte{manifest.ModelFile: t.Model, WordVocabFile: t.Vocab}
}

// BuildText2 builds starter-text@2 from the WordNet database: it learns
// word vectors (package wordvec), weighs each word by its inverse
// document frequency over the glosses, and writes a graph that sums the
// n-gram rows exactly as starter-text@1 does, sums the IDF-weighted word
// vectors, normalises each block and concatenates them. Without the
// database it fails with wordnet.ErrMissing. The same database gives the
// same bytes.
func BuildText2(ctx context.Context, cfg Text2Config) (Text2, error) {
	if !(cfg.WordWeight > 0) {
		return Text2{}, fmt.Errorf("build %s: word weight %v must be > 0", Text2ID, cfg.WordWeight)
	}
	if err := cfg.Vectors.Validate(); err != nil {
		return Text2{}, fmt.Errorf("build %s: %w", Text2ID, err)
	}
	db, err := wordnet.Open(cfg.WordNetDir)
	if err != nil {
		return Text2{}, fmt.Errorf("build %s: %w", Text2ID, err)
	}
	lemmas := wordvec.Vocabulary(db, cfg.Vocab)
	src := wordvec.NewSource(db)
	vecs, err := wordvec.Learn(ctx, src, lemmas, cfg.Vectors, nil)
	if err != nil {
		return Text2{}, fmt.Errorf("build %s: %w", Text2ID, err)
	}
	vocab, err := NewWordVocab(lemmas, db.Exceptions())
	if err != nil {
		return Text2{}, fmt.Errorf("build %s: %w", Text2ID, err)
	}
	idf := wordvec.GlossIDF(src, lemmas)
	model, err := buildText2Graph(vecs, idf, cfg.WordWeight)
	if err != nil {
		return Text2{}, fmt.Errorf("build %s: %w", Text2ID, err)
	}
	m := Text2Manifest(vecs.Dim)
	if err := m.Validate(); err != nil {
		return Text2{}, err
	}
	return Text2{Model: model, Vocab: vocab.Marshal(), Manifest: m, Words: len(lemmas)}, nil
}

// Text2Manifest is starter-text@2's manifest for word vectors of wordDim.
func Text2Manifest(wordDim int) manifest.Manifest {
	return manifest.Manifest{
		Name: TextName, Version: Text2Version, Modality: "text", Licence: Licence + " AND WordNet-3.0",
		Description: "starter-text@1's hashed words and character 3-grams, concatenated with IDF-weighted WordNet word vectors (PPMI over synsets, hypernyms, relations and glosses, truncated SVD); classical features, not a neural network.",
		Inputs: []manifest.Input{
			{Name: "ids", Role: manifest.RoleHashIDs, Layout: "BL"},
			{Name: "weights", Role: manifest.RoleHashWeights, Layout: "BL"},
		},
		Outputs: []manifest.Output{{Name: "embedding", Pooling: manifest.PoolNone}},
		Dim:     TextDim + wordDim,
		Preprocess: manifest.Preprocessing{Text: &manifest.TextPre{
			Tokenizer: manifest.TokenizerStarterWordNet, Vocab: WordVocabFile,
			MaxLength: TextMaxLength, Lowercase: true, Buckets: TextBuckets,
		}},
	}
}

// hashTable is starter-text@1's ±1 table (TextBuckets × TextDim int8).
func hashTable() []byte {
	table := make([]byte, TextBuckets*TextDim)
	rng := newTextRNG()
	for i := 0; i < len(table); i += 64 {
		bits := rng.Uint64()
		for j := 0; j < 64; j++ {
			if bits>>j&1 == 1 {
				table[i+j] = 1
			} else {
				table[i+j] = 0xff // int8 -1
			}
		}
	}
	return table
}

// bagOfRows is Σ_l w[b,l]·float(table[ids[b,l]]) → [B,D].
func bagOfRows(g *onnxgraph.Graph, table, ids, w string) string {
	rows := g.Node("Gather", []string{table, ids}, onnxgraph.AInt("axis", 0))             // [B,L,D]
	rowsF := g.Node("Cast", []string{rows}, onnxgraph.AInt("to", int64(onnxgraph.Float))) // [B,L,D]
	w3 := g.Op("Unsqueeze", w, g.Ints([]int64{1}, []int64{1}))                            // [B,1,L]
	sum := g.Op("MatMul", w3, rowsF)                                                      // [B,1,D]
	return g.Op("Squeeze", sum, g.Ints([]int64{1}, []int64{1}))                           // [B,D]
}

// buildText2Graph writes the graph. Ids below TextBuckets index the ±1
// table; ids from TextBuckets up index the word table (int8 rows with a
// per-row scale, times the word's IDF).
func buildText2Graph(v *wordvec.Vectors, idf []float32, wordWeight float64) ([]byte, error) {
	n, d := len(v.Words), v.Dim
	q := make([]byte, n*d)
	scale := make([]float32, n) // per-row dequantisation scale × IDF
	for i := range n {
		row := v.Data[i*d : (i+1)*d]
		var m float32
		for _, x := range row {
			m = max(m, float32(math.Abs(float64(x))))
		}
		if m == 0 {
			continue
		}
		for j, x := range row {
			q[i*d+j] = byte(int8(math.Round(float64(x / m * 127))))
		}
		scale[i] = m / 127 * idf[i]
	}
	g := onnxgraph.New(TextName + "-2")
	ids := g.Input("ids", onnxgraph.Int64, "batch", "features")
	w := g.Input("weights", onnxgraph.Float, "batch", "features")
	buckets := g.IntScalar(TextBuckets)
	isWord := g.Op("GreaterOrEqual", ids, buckets)
	zeroID := g.IntScalar(0)
	zeroW := g.Scalar(0)
	hashIDs := g.Op("Where", isWord, zeroID, ids)
	hashW := g.Op("Where", isWord, zeroW, w)
	wordIDs := g.Op("Where", isWord, g.Op("Sub", ids, buckets), zeroID)
	wordW := g.Op("Where", isWord, w, zeroW)

	hashBlock := l2norm(g, bagOfRows(g, g.Raw(onnxgraph.Int8, []int64{TextBuckets, TextDim}, hashTable()), hashIDs, hashW), 1e-12)
	rowScale := g.Node("Gather", []string{g.Floats([]int64{int64(n)}, scale), wordIDs}, onnxgraph.AInt("axis", 0)) // [B,L]
	wordBlock := bagOfRows(g, g.Raw(onnxgraph.Int8, []int64{int64(n), int64(d)}, q), wordIDs, g.Op("Mul", wordW, rowScale))
	wordBlock = g.Op("Mul", l2norm(g, wordBlock, 1e-12), g.Scalar(float32(wordWeight)))
	all := g.Node("Concat", []string{hashBlock, wordBlock}, onnxgraph.AInt("axis", 1))
	out := l2norm(g, all, 1e-12)
	g.Output(out, "embedding", onnxgraph.Float, "batch", TextDim+d)
	return g.Model(Opset, "omnirank-starter", "starter-text@2: hashed n-gram random projection + IDF-weighted WordNet word vectors")
}
