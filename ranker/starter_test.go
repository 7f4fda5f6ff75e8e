package ranker_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/starter"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/spaces"
)

// TestStarterEncoders runs text queries through the real starter text
// model in ONNX Runtime, with the product vectors made by the same model,
// and a corrupt image through the real starter image model.
func TestStarterEncoders(t *testing.T) {
	ctx := t.Context()
	store, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(store, extractors.WithLogger(testLogger()), extractors.WithSession(ort.WithIntraOpThreads(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	if _, err := reg.EnsureStarter(ctx); err != nil {
		t.Fatal(err)
	}
	sp := spaces.Space{Name: "starter", Blocks: []spaces.Block{
		{Modality: "text", Model: extractors.StarterID(extractors.Text), Dim: starter.TextDim, Weight: 1},
		{Modality: "image", Model: extractors.StarterID(extractors.Image), Dim: starter.ImageDim, Weight: 0.5},
	}}
	e := newEnv(t)
	e.putSpace(sp, true)

	titles := map[string]string{
		"shoe-red":    "red leather running shoes",
		"shoe-blue":   "blue canvas sneakers",
		"shirt-white": "white cotton shirt with long sleeves",
		"pan":         "cast iron frying pan",
		"kettle":      "stainless steel electric kettle",
		"guitar":      "acoustic guitar with nylon strings",
	}
	enc, err := reg.Encoder(ctx, extractors.StarterID(extractors.Text))
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	var order []string
	for id, title := range titles {
		order = append(order, id)
		inputs = append(inputs, []byte(title))
	}
	vecs, err := enc.Encode(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	for i, id := range order {
		e.putProduct(&product{id: id, category: []string{"all"}, price: 10, uploaded: baseTime})
		e.publishEmb(sp, id, 1, map[string][]float32{"text": vecs[i]})
	}
	s := e.serve(reg, cosineOnly)
	s.waitReady(t, "")

	for _, c := range []struct{ query, want string }{
		{"red running shoes", "shoe-red"},
		{"electric kettle", "kettle"},
		{"cotton shirt", "shirt-white"},
		{"guitar strings", "guitar"},
	} {
		res, err := s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: c.query, K: 3, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) == 0 || res.Results[0].Id != c.want {
			t.Errorf("%q: got %v, want %s first", c.query, ids(res), c.want)
		}
		if res.Models["text"] != extractors.StarterID(extractors.Text) {
			t.Errorf("models %v", res.Models)
		}
	}
	_, err = s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryImage: []byte("this is not an image")})
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "image") {
		t.Fatalf("corrupt image: %v %q", st.Code(), st.Message())
	}
}
