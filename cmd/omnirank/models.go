package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/internal/openwakeword"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/wordnet"
)

// registerDir sends a model folder's files to AdminService.RegisterModel.
func registerDir(ctx context.Context, ac pb.AdminServiceClient, dir string, stdout io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	req := &pb.RegisterModelRequest{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		req.Files = append(req.Files, &pb.ModelFile{Name: e.Name(), Data: data})
	}
	resp, err := ac.RegisterModel(ctx, req)
	if err != nil {
		return fmt.Errorf("register %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "registered %s (%s, dim %d, licence %s)\n", resp.GetModel().GetId(), resp.GetModel().GetModality(), resp.GetModel().GetDim(), resp.GetModel().GetLicence())
	return nil
}

func cmdModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omnirank models [--addr A] list | show NAME@VERSION | register DIR | build-starter DIR [--wordnet DIR] | build-standin DIR | fetch openwakeword --accept-license")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("models: no subcommand")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	if sub == "build-starter" {
		bfs := flag.NewFlagSet("models build-starter", flag.ContinueOnError)
		bfs.SetOutput(stderr)
		wn := bfs.String("wordnet", wordnet.DefaultDir, "WordNet 3.0 database folder (Debian wordnet-base) for starter-text@2")
		if len(rest) == 0 {
			return fmt.Errorf("usage: omnirank models build-starter DIR [--wordnet DIR]")
		}
		if err := bfs.Parse(rest[1:]); err != nil || bfs.NArg() != 0 {
			return fmt.Errorf("usage: omnirank models build-starter DIR [--wordnet DIR]")
		}
		return buildStarter(ctx, rest[0], *wn, stdout, stderr)
	}
	if sub == "build-standin" {
		if len(rest) != 1 {
			return fmt.Errorf("usage: omnirank models build-standin DIR")
		}
		if err := starter.WriteStandins(rest[0], starter.MiniLML6, starter.ResNet18); err != nil {
			return fmt.Errorf("build stand-in models: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s/text (%s@1) and %s/image (%s@1): random weights, for throughput measurement only\n",
			rest[0], starter.StandinTextName, rest[0], starter.StandinImageName)
		return nil
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ac := pb.NewAdminServiceClient(conn)
	switch sub {
	case "list", "show":
		resp, err := ac.ListModels(ctx, &pb.ListModelsRequest{})
		if err != nil {
			return fmt.Errorf("list models: %w", err)
		}
		for _, m := range resp.GetModels() {
			if sub == "show" {
				if len(rest) == 1 && m.GetId() == rest[0] {
					fmt.Fprintln(stdout, m.GetManifestJson())
					return nil
				}
				continue
			}
			fmt.Fprintf(stdout, "%-28s %-6s dim %-5d %s\n", m.GetId(), m.GetModality(), m.GetDim(), m.GetLicence())
		}
		if sub == "show" {
			return fmt.Errorf("model %v not found", rest)
		}
		return nil
	case "register":
		if len(rest) != 1 {
			return fmt.Errorf("usage: omnirank models register DIR")
		}
		return registerDir(ctx, ac, rest[0], stdout)
	case "fetch":
		ffs := flag.NewFlagSet("models fetch", flag.ContinueOnError)
		ffs.SetOutput(stderr)
		accept := ffs.Bool("accept-license", false, "accept the model's licence (printed below)")
		if len(rest) == 0 || rest[0] != "openwakeword" {
			return fmt.Errorf("usage: omnirank models fetch openwakeword --accept-license (the only fetchable model)")
		}
		if err := ffs.Parse(rest[1:]); err != nil {
			return err
		}
		fmt.Fprintln(stderr, openwakeword.LicenceNotice)
		if !*accept {
			return fmt.Errorf("not fetched: pass --accept-license to accept the licence above")
		}
		tmp, err := os.MkdirTemp("", "omnirank-openwakeword-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir, err := openwakeword.FetchOpenWakeWord(ctx, tmp, true)
		if err != nil {
			return err
		}
		return registerDir(ctx, ac, dir, stdout)
	default:
		fs.Usage()
		return fmt.Errorf("models: unknown subcommand %q", sub)
	}
}
