package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dlq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	stage := fs.String("stage", "", "only this stage (ingest, extract-image, extract-audio, extract-text, fusion)")
	limit := fs.Int("limit", 100, "most dead letters listed")
	all := fs.Bool("all", false, "replay: every dead letter (of --stage)")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: omnirank dlq [flags] list | replay (--all | SEQ...)") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("dlq: no subcommand")
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ac := pb.NewAdminServiceClient(conn)
	switch fs.Arg(0) {
	case "list":
		resp, err := ac.ListDeadLetters(ctx, &pb.ListDeadLettersRequest{Stage: *stage, Limit: int32(*limit)})
		if err != nil {
			return fmt.Errorf("list dead letters: %w", err)
		}
		for _, d := range resp.GetDeadLetters() {
			fmt.Fprintf(stdout, "%6d %s %-14s %-20s attempts %d  %s: %s\n", d.GetSeq(),
				time.UnixMilli(d.GetTimeMs()).UTC().Format(time.RFC3339), d.GetStage(), d.GetProductId(), d.GetAttempts(), d.GetObjectKey(), d.GetReason())
		}
		if len(resp.GetDeadLetters()) == 0 {
			fmt.Fprintln(stdout, "(no dead letters)")
		}
		return nil
	case "replay":
		req := &pb.ReplayDeadLettersRequest{All: *all, Stage: *stage}
		for _, a := range fs.Args()[1:] {
			n, err := strconv.ParseUint(a, 10, 64)
			if err != nil {
				return fmt.Errorf("dlq replay: %q is not a sequence number", a)
			}
			req.Seqs = append(req.Seqs, n)
		}
		resp, err := ac.ReplayDeadLetters(ctx, req)
		if err != nil {
			return fmt.Errorf("replay dead letters: %w", err)
		}
		fmt.Fprintf(stdout, "replayed %d dead letters\n", resp.GetReplayed())
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("dlq: unknown subcommand %q", fs.Arg(0))
	}
}

func cmdReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := pb.NewAdminServiceClient(conn).Reconcile(ctx, &pb.ReconcileRequest{})
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	fmt.Fprintf(stdout, "reconciled %d products with the bucket\n", resp.GetProducts())
	return nil
}
