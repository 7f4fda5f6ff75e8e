package ranker_test

import (
	"testing"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
)

func TestRecommendKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *omnirankv1.RecommendRequest
		want string
	}{
		{"text", &omnirankv1.RecommendRequest{QueryText: "shoes"}, ranker.KindText},
		{"image", &omnirankv1.RecommendRequest{QueryImage: []byte{1}}, ranker.KindImage},
		{"audio", &omnirankv1.RecommendRequest{QueryAudio: []byte{1}}, ranker.KindAudio},
		{"like", &omnirankv1.RecommendRequest{PositiveIds: []string{"a"}}, ranker.KindExamples},
		{"like and unlike", &omnirankv1.RecommendRequest{PositiveIds: []string{"a"}, NegativeIds: []string{"b"}}, ranker.KindExamples},
		{"unlike", &omnirankv1.RecommendRequest{NegativeIds: []string{"b"}}, ranker.KindExamples},
		{"user", &omnirankv1.RecommendRequest{UserId: "u"}, ranker.KindUser},
		{"nothing", &omnirankv1.RecommendRequest{}, ranker.KindBrowse},
		{"text and user", &omnirankv1.RecommendRequest{QueryText: "x", UserId: "u"}, ranker.KindMixed},
		{"image and like", &omnirankv1.RecommendRequest{QueryImage: []byte{1}, PositiveIds: []string{"a"}}, ranker.KindMixed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ranker.RecommendKind(tc.req); got != tc.want {
				t.Fatalf("RecommendKind = %q, want %q", got, tc.want)
			}
		})
	}
}
