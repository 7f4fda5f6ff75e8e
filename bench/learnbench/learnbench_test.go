package learnbench

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	res, err := Run(Options{Impressions: 2000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Impressions != 2000 || res.Examples != 20000 || res.Epochs < 1 || !(res.TrainS > 0) || !(res.NDCG10Learned > 0) || !(res.NDCG10Hand > 0) {
		t.Fatalf("result %+v", res)
	}
	if _, err := Run(Options{Impressions: 10}); err == nil || !strings.Contains(err.Error(), "≥ 100") {
		t.Fatalf("10 impressions: %v", err)
	}
}
