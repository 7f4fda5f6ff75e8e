package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/omnirank/omnirank/auth"
)

// cmdTokens makes API tokens: `tokens create --scopes query,feedback
// [--name N]` prints the secret (once: only its hash is kept) and the line
// for the server's --auth-tokens file; --file appends that line to the
// file and --secret-out writes the secret to a file instead of stdout.
func cmdTokens(args []string, stdout, stderr io.Writer) error {
	const usage = "usage: omnirank tokens create --scopes query,feedback,ingest,admin [--name NAME] [--file TOKENS] [--secret-out FILE]"
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("want: tokens create")
	}
	fs := flag.NewFlagSet("tokens create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scopes := fs.String("scopes", "", "comma-separated scopes: query, feedback, ingest, admin")
	name := fs.String("name", "token-"+time.Now().UTC().Format("20060102-150405"), "name the server logs and labels metrics with (one word)")
	file := fs.String("file", "", "append the token's line to this token file (created with mode 0600)")
	secretOut := fs.String("secret-out", "", "write the secret to this file (mode 0600) instead of stdout; if it exists, do nothing")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	sc, err := auth.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("--scopes: %w", err)
	}
	if *secretOut != "" {
		if _, err := os.Stat(*secretOut); err == nil {
			fmt.Fprintf(stdout, "%s exists: kept it and made no token\n", *secretOut)
			return nil
		}
	}
	secret, line, err := auth.NewToken(*name, sc)
	if err != nil {
		return err
	}
	if *file != "" {
		if err := appendLine(*file, line); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added token %s (%s) to %s\n", *name, strings.Join(strings.Fields(line)[1:2], ""), *file)
	} else {
		fmt.Fprintf(stdout, "line for the server's --auth-tokens file:\n%s\n", line)
	}
	if *secretOut != "" {
		if err := os.WriteFile(*secretOut, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("--secret-out: %w", err)
		}
		fmt.Fprintf(stdout, "secret written to %s\n", *secretOut)
		return nil
	}
	fmt.Fprintf(stdout, "token (shown once; give it to the client as OMNIRANK_TOKEN or --token):\n  %s\n", secret)
	return nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return fmt.Errorf("token file %s: %w", path, err)
	}
	return f.Close()
}

// cmdCerts makes a small private PKI for TLS and mutual TLS (auth.WritePKI).
func cmdCerts(args []string, stdout, stderr io.Writer) error {
	const usage = "usage: omnirank certs create --dir DIR [--hosts localhost,127.0.0.1] [--valid 8760h]"
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("want: certs create")
	}
	fs := flag.NewFlagSet("certs create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "folder to write ca.pem, server.pem, client.pem and their keys to")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "comma-separated DNS names and IPs the server certificate is for")
	valid := fs.Duration("valid", 365*24*time.Hour, "validity of the certificates")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	var hs []string
	for h := range strings.SplitSeq(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	p, err := auth.WritePKI(*dir, hs, *valid)
	if errors.Is(err, auth.ErrPKIExists) {
		fmt.Fprintf(stdout, "%s: kept the PKI already there\n", *dir)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server: --tls-cert %s --tls-key %s [--tls-client-ca %s]\n", p.ServerCert, p.ServerKey, p.CA)
	fmt.Fprintf(stdout, "client: --tls-ca %s [--tls-cert %s --tls-key %s]\n", p.CA, p.ClientCert, p.ClientKey)
	fmt.Fprintf(stdout, "keep %s offline: it signs certificates\n", p.CAKey)
	return nil
}
