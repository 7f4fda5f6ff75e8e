package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/omnirank/omnirank/experiment"
)

// cmdExperiment: omnirank experiment report [--name N] [--since D] [--json].
func cmdExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("experiment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL, natsCreds := streamFlags(fs)
	name := fs.String("name", "", "the experiment to report (default: the first one the impressions name)")
	file := fs.String("experiment", "", "the experiment file: its name and arm order")
	since := fs.Duration("since", 0, "only impressions and feedback of the last DURATION (0: everything the streams keep)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omnirank experiment report --nats-url URL [--name N | --experiment FILE] [--since DURATION] [--json]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "report" {
		fs.Usage()
		return fmt.Errorf("experiment: want report")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		fs.Usage()
		return fmt.Errorf("experiment report: unexpected arguments %v", fs.Args())
	case *natsURL == "":
		return fmt.Errorf("experiment report: --nats-url (or OMNIRANK_NATS_URL) is required")
	case *since < 0:
		return fmt.Errorf("experiment report: --since must be ≥ 0, got %v", *since)
	}
	var order []string
	if *file != "" {
		c, err := experiment.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("experiment report: %w", err)
		}
		*name = c.Name
		for _, a := range c.Arms {
			order = append(order, a.Name)
		}
	}
	js, closeNATS, err := connectJetStream(*natsURL, *natsCreds, "omnirank-experiment")
	if err != nil {
		return fmt.Errorf("experiment report: %w", err)
	}
	defer closeNATS()
	var from time.Time
	if *since > 0 {
		from = time.Now().Add(-*since)
	}
	rep, err := experiment.Load(ctx, js, *name, from, order...)
	if err != nil {
		return err
	}
	if len(rep.Arms) == 0 {
		return fmt.Errorf("experiment report: no impressions of an experiment (serve --experiment, --impression-sample > 0)")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}
