package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/omnirank/omnirank/auth"
)

// cmdTokens makes API tokens: `tokens create --scopes query,feedback
// [--name N]` prints the secret (once: only its hash is kept) and the line
// to append to the server's --auth-tokens file.
func cmdTokens(args []string, stdout, stderr io.Writer) error {
	const usage = "usage: omnirank tokens create --scopes query,feedback,ingest,admin [--name NAME]"
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("want: tokens create")
	}
	fs := flag.NewFlagSet("tokens create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scopes := fs.String("scopes", "", "comma-separated scopes: query, feedback, ingest, admin")
	name := fs.String("name", "token-"+time.Now().UTC().Format("20060102-150405"), "name the server logs and labels metrics with (one word)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	sc, err := auth.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("--scopes: %w", err)
	}
	secret, line, err := auth.NewToken(*name, sc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token (shown once; give it to the client as OMNIRANK_TOKEN or --token):\n  %s\n", secret)
	fmt.Fprintf(stdout, "line for the server's --auth-tokens file:\n%s\n", line)
	return nil
}
