// Command omnirank is the one omnirank binary: `serve` runs any set of roles
// (all of them by default), the other subcommands are clients of a running
// server or offline tools.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `omnirank — multimodal feature extraction and ranking for product catalogues

Usage:
  omnirank serve   [--roles=all] [--data-dir=./data] [--grpc-addr=127.0.0.1:50051] ...
  omnirank ingest  [--addr=...] PATH            folder of products or a .jsonl file
  omnirank query   [--addr=...] [--text T] [--image F] [--audio F] [--like ID]... [--user U] [-k N] [--json]
  omnirank status  [--addr=...]                 pipeline health and rejected products
  omnirank get     [--addr=...] [--json] ID      one product: its record, state and transcript
  omnirank eval    --queries FILE [--space NAME] [-k 10] [--json]   Recall/NDCG/MRR@k on labelled queries
  omnirank dlq     list | replay (--all | SEQ...) dead letters, with reasons
  omnirank reconcile                             re-list the bucket and repair missed events
  omnirank models  list|show|register|build-starter|build-standin
  omnirank spaces  list | show NAME | create NAME --block MODALITY=MODEL@VERSION[:WEIGHT]... | retire NAME
  omnirank campaign start --space NAME [--rate N] | pause | resume | cancel | status [--json] | watch |
                   promote [--force] [--max-regression 0.01] | rollback
  omnirank tokens  create --scopes query,feedback,ingest,admin [--name N] [--file F]   an API token (docs/SECURITY.md)
  omnirank certs   create --dir DIR [--hosts H,...]   a private CA, server and client certificates
  omnirank bench   extract|index|ingest|recommend|campaign [--json]
  omnirank users   forget USER                   erase a user's feedback everywhere
  omnirank simulate [--users N] [--requests R] [--duration D] (--query T | --like ID)...   synthetic shoppers
  omnirank train   ranker --nats-url URL [--since D] [--out FILE] [--publish]   learn the scorer from impressions + feedback
  omnirank experiment report --nats-url URL [--name N] [--since D] [--json]   A/B arms: CTR and conversion with 95% CIs
  omnirank version

Client commands take --addr, --tls-ca, --tls-cert/--tls-key (mutual TLS) and
--token (or OMNIRANK_TOKEN). Run 'omnirank COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "omnirank:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "ingest":
		return cmdIngest(ctx, rest, stdout, stderr)
	case "query":
		return cmdQuery(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "get":
		return cmdGet(ctx, rest, stdout, stderr)
	case "eval":
		return cmdEval(ctx, rest, stdout, stderr)
	case "dlq":
		return cmdDLQ(ctx, rest, stdout, stderr)
	case "reconcile":
		return cmdReconcile(ctx, rest, stdout, stderr)
	case "models":
		return cmdModels(ctx, rest, stdout, stderr)
	case "spaces":
		return cmdSpaces(ctx, rest, stdout, stderr)
	case "campaign":
		return cmdCampaign(ctx, rest, stdout, stderr)
	case "tokens":
		return cmdTokens(rest, stdout, stderr)
	case "certs":
		return cmdCerts(rest, stdout, stderr)
	case "users":
		return cmdUsers(ctx, rest, stdout, stderr)
	case "simulate":
		return cmdSimulate(ctx, rest, stdout, stderr)
	case "train":
		return cmdTrain(ctx, rest, stdout, stderr)
	case "experiment":
		return cmdExperiment(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "omnirank", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

var version = "dev"
