package report

import (
	"context"
	"fmt"
	"time"

	"github.com/omnirank/omnirank/eval"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// CurveK is the largest cutoff of the metrics-against-k plot.
const CurveK = 50

// Build asks the ranker what a report needs besides main (the evaluation
// with cfg, as printed): one run at k = CurveK for the metrics against k,
// and the ablation — every block of the answering space alone (vector
// only, over the queries that can fill the block: eval.Query.Fills), the
// lexical side alone over the text queries (lexical weight 1), and all
// blocks as served (main's overall row: the ranker's scorer, hand weights
// or the learned model it loaded).
func Build(ctx context.Context, client pb.RankerServiceClient, queries []eval.Query, cfg eval.Config, main eval.Result) (Data, error) {
	d := Data{Main: main, Generated: time.Now()}
	cc := cfg
	cc.K = CurveK
	cc.Space = main.Space
	res, err := eval.Run(ctx, client, queries, cc)
	if err != nil {
		return d, fmt.Errorf("report: metrics against k: %w", err)
	}
	d.Curve = eval.Curve(queries, res, CurveK)

	ac := cfg
	ac.Space = main.Space
	blocks, err := eval.SpaceBlocks(ctx, client, queries, ac)
	if err != nil {
		return d, fmt.Errorf("report: %w", err)
	}
	zero, one := float32(0), float32(1)
	for _, b := range blocks {
		var qs []eval.Query
		for _, q := range queries {
			if q.Fills(b) {
				qs = append(qs, q)
			}
		}
		bc := ac
		bc.Blocks, bc.LexicalWeight = []string{b}, &zero
		row, err := ablationRow(ctx, client, qs, bc, b+" block alone")
		if err != nil {
			return d, err
		}
		d.Ablation = append(d.Ablation, row)
	}
	var text []eval.Query
	for _, q := range queries {
		if q.Text != "" {
			text = append(text, q)
		}
	}
	lc := ac
	lc.LexicalWeight = &one
	row, err := ablationRow(ctx, client, text, lc, "lexical alone")
	if err != nil {
		return d, err
	}
	d.Ablation = append(d.Ablation, row)
	d.Ablation = append(d.Ablation, Row{Name: "all (as served)", Result: main.All, Queries: main.Queries, Failed: main.Failed})
	return d, nil
}

func ablationRow(ctx context.Context, client pb.RankerServiceClient, qs []eval.Query, cfg eval.Config, name string) (Row, error) {
	if len(qs) == 0 {
		return Row{Name: name}, nil
	}
	res, err := eval.Run(ctx, client, qs, cfg)
	if err != nil {
		return Row{}, fmt.Errorf("report: %s: %w", name, err)
	}
	return Row{Name: name, Result: res.All, Queries: res.Queries, Failed: res.Failed}, nil
}
