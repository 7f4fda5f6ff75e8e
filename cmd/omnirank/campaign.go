package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
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
  evaluate --queries FILE         evaluate the active and the campaign space side by side
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
	addr := fs.String("addr", defaultAddr, "omnirank gRPC address")
	space := fs.String("space", "", "start: the space to build (create it with `omnirank spaces create`)")
	rate := fs.Float64("rate", 0, "start: most products per second (0: no cap; the campaign still yields to live work)")
	asJSON := fs.Bool("json", false, "status: print one JSON object")
	force := fs.Bool("force", false, "promote: skip the evaluation gate")
	maxReg := fs.Float64("max-regression", 0.01, "promote: largest NDCG@k drop allowed")
	queries := fs.String("queries", "", "evaluate: labelled query file (JSONL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	conn, err := dial(*addr)
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
		return errors.New("campaign evaluate: the evaluation package (omnirank eval) is not in this build yet; promote with --force, or store an evaluation through AdminService.StoreEvaluation")
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
