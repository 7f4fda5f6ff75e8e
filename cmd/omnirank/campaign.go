package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/omnirank/omnirank/eval"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// campaignJSON is `campaign status --json`: exactly these fields.
type campaignJSON struct {
	Space     string  `json:"space"`
	State     string  `json:"state"`
	Done      int64   `json:"done"`
	Total     int64   `json:"total"`
	Failed    int64   `json:"failed"`
	ItemsPerS float64 `json:"items_per_s"`
	EtaS      float64 `json:"eta_s"`
}

func cmdCampaign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := `usage: omnirank campaign [--addr A] SUBCOMMAND
  start --space NAME [--rate N]   re-embed the catalogue into NAME (N products/s at most)
  pause | resume | cancel
  status [--json]                 space, state, done, total, failed, items_per_s, eta_s
  watch                           live progress until done
  evaluate --queries FILE [-k 10] [--lexical-weight W]
                                  evaluate the campaign's space and the one it
                                  started from side by side; store the result
                                  for promote's gate (the campaign must be done)
  promote [--force] [--max-regression 0.01]
  rollback`
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("campaign: no subcommand")
	}
	sub := args[0]
	fs := flag.NewFlagSet("campaign "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	client := addClientFlags(fs)
	space := fs.String("space", "", "start: the space to build (create it with `omnirank spaces create`)")
	rate := fs.Float64("rate", 0, "start: most products per second (0: no cap; the campaign still yields to live work)")
	asJSON := fs.Bool("json", false, "status: print one JSON object")
	force := fs.Bool("force", false, "promote: skip the evaluation gate")
	maxReg := fs.Float64("max-regression", 0.01, "promote: largest NDCG@k drop allowed")
	queries := fs.String("queries", "", "evaluate: labelled query file (JSONL)")
	k := fs.Int("k", 10, "evaluate: results asked for and scored per query")
	lexWeight := lexicalWeightFlag(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ac := pb.NewAdminServiceClient(conn)
	var st *pb.CampaignStatus
	switch sub {
	case "start":
		if *space == "" {
			return fmt.Errorf("campaign start: --space NAME is required")
		}
		st, err = ac.StartCampaign(ctx, &pb.StartCampaignRequest{Space: *space, Rate: *rate})
	case "pause":
		st, err = ac.PauseCampaign(ctx, &pb.CampaignRequest{})
	case "resume":
		st, err = ac.ResumeCampaign(ctx, &pb.CampaignRequest{})
	case "cancel":
		st, err = ac.CancelCampaign(ctx, &pb.CampaignRequest{})
	case "status":
		st, err = ac.GetCampaign(ctx, &pb.CampaignRequest{})
		if err == nil && *asJSON {
			return writeJSON(stdout, statusJSON(st), false)
		}
	case "watch":
		return watchCampaign(ctx, ac, stdout)
	case "promote":
		st, err = ac.PromoteCampaign(ctx, &pb.PromoteCampaignRequest{Force: *force, MaxRegression: maxReg})
	case "rollback":
		st, err = ac.RollbackCampaign(ctx, &pb.CampaignRequest{})
	case "evaluate":
		if *queries == "" {
			return fmt.Errorf("campaign evaluate: --queries FILE is required")
		}
		cfg := eval.DefaultConfig()
		cfg.K, cfg.LexicalWeight = *k, lexWeight()
		return evaluateCampaign(ctx, conn, *queries, cfg, stdout)
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("campaign: unknown subcommand %q", sub)
	}
	if err != nil {
		return fmt.Errorf("campaign %s: %w", sub, err)
	}
	printCampaign(stdout, st)
	return nil
}

func statusJSON(st *pb.CampaignStatus) campaignJSON {
	return campaignJSON{Space: st.GetSpace(), State: st.GetState(), Done: st.GetDone(), Total: st.GetTotal(),
		Failed: st.GetFailed(), ItemsPerS: st.GetItemsPerS(), EtaS: st.GetEtaS()}
}

func printCampaign(w io.Writer, st *pb.CampaignStatus) {
	promoted := ""
	if st.GetPromoted() {
		promoted = ", promoted"
	}
	fmt.Fprintf(w, "campaign %s -> %s: %s%s  %d/%d done, %d failed  %.1f products/s  eta %s\n",
		st.GetFrom(), st.GetSpace(), st.GetState(), promoted, st.GetDone(), st.GetTotal(), st.GetFailed(),
		st.GetItemsPerS(), time.Duration(st.GetEtaS()*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(w, "  queued %d products: %d model runs, %d features reused\n", st.GetQueued(), st.GetEncoded(), st.GetReused())
	if st.GetEvaluated() {
		fmt.Fprintf(w, "  evaluation NDCG@%d: %s %.4f, %s %.4f\n", st.GetEvalK(), st.GetFrom(), st.GetActiveNdcg(), st.GetSpace(), st.GetCampaignNdcg())
	}
	if e := st.GetError(); e != "" {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

// watchCampaign draws a progress bar from AdminService.WatchCampaign until
// the campaign ends.
func watchCampaign(ctx context.Context, ac pb.AdminServiceClient, w io.Writer) error {
	stream, err := ac.WatchCampaign(ctx, &pb.CampaignRequest{})
	if err != nil {
		return fmt.Errorf("watch campaign: %w", err)
	}
	var last *pb.CampaignStatus
	for {
		st, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(w)
			if last != nil {
				printCampaign(w, last)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("watch campaign: %w", err)
		}
		last = st
		const width = 30
		total := max(st.GetTotal(), 1)
		filled := int(int64(width) * min(st.GetDone()+st.GetFailed(), total) / total)
		fmt.Fprintf(w, "\r%s [%s%s] %d/%d  %d failed  %.1f/s  eta %s   ", st.GetState(), strings.Repeat("#", filled),
			strings.Repeat(".", width-filled), st.GetDone(), st.GetTotal(), st.GetFailed(), st.GetItemsPerS(),
			time.Duration(st.GetEtaS()*float64(time.Second)).Round(time.Second))
	}
}

// evaluateCampaign runs the labelled queries against the space the
// campaign started from and the campaign's space, prints them side by
// side and stores the comparison with the campaign, where promote's gate
// reads it. An evaluation with failed queries is printed, not stored.
func evaluateCampaign(ctx context.Context, conn grpc.ClientConnInterface, path string, cfg eval.Config, stdout io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	qs, err := eval.ReadQueryFile(path)
	if err != nil {
		return err
	}
	ac := pb.NewAdminServiceClient(conn)
	st, err := ac.GetCampaign(ctx, &pb.CampaignRequest{})
	if err != nil {
		return fmt.Errorf("campaign evaluate: %w", err)
	}
	if st.GetState() != string(topology.CampaignDone) {
		return fmt.Errorf("campaign evaluate: the campaign into %s is %s (%d of %d done); evaluate once it is done", st.GetSpace(), st.GetState(), st.GetDone(), st.GetTotal())
	}
	cmp, err := eval.CompareSpaces(ctx, pb.NewRankerServiceClient(conn), qs, cfg, st.GetFrom(), st.GetSpace())
	if err != nil {
		return fmt.Errorf("campaign evaluate: %w", err)
	}
	if err := eval.WriteComparison(stdout, cmp); err != nil {
		return err
	}
	if n := cmp.A.Failed + cmp.B.Failed; n > 0 {
		return fmt.Errorf("campaign evaluate: %d queries failed; nothing stored (see omnirank eval --json --per-query)", n)
	}
	stored := cmp
	stored.A.PerQuery, stored.B.PerQuery = nil, nil
	report, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	st, err = ac.StoreEvaluation(ctx, &pb.StoreEvaluationRequest{K: int32(cmp.K), Queries: int32(cmp.A.Queries),
		ActiveNdcg: cmp.A.All.NDCG, CampaignNdcg: cmp.B.All.NDCG, Overlap: cmp.Overlap, ResultJson: string(report)})
	if err != nil {
		return fmt.Errorf("campaign evaluate: store the evaluation: %w", err)
	}
	fmt.Fprintln(stdout)
	printCampaign(stdout, st)
	return nil
}
