// Command mksample builds the demo sample catalogue (see package
// samplecatalog) into a folder, by default .cache/sample-catalog:
//
//	go run ./cmd/mksample [-out DIR] [-limit N] [-voice-every K] [-queries N]
//
// It needs npm once (to fetch the pinned emoji package), and espeak-ng and
// sox for the voice-overs. A second run with the same options does
// nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/omnirank/omnirank/internal/samplecatalog"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mksample:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mksample", flag.ContinueOnError)
	out := fs.String("out", ".cache/sample-catalog", "output folder")
	cache := fs.String("cache", samplecatalog.DefaultCacheDir(), "cache folder for the extracted emoji package")
	tarball := fs.String("tarball", "", "use this "+samplecatalog.TarballName()+" instead of npm pack (checksum still verified)")
	limit := fs.Int("limit", samplecatalog.DefaultLimit, "number of products")
	voiceEvery := fs.Int("voice-every", 1, "give every k-th product a voice-over (0: none)")
	queries := fs.Int("queries", samplecatalog.DefaultQueries, "sample queries of each kind (image, audio, text)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel espeak-ng/sox runs")
	force := fs.Bool("force", false, "rebuild even when the output is up to date")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts := []samplecatalog.Option{
		samplecatalog.WithCacheDir(*cache),
		samplecatalog.WithLimit(*limit),
		samplecatalog.WithVoiceEvery(*voiceEvery),
		samplecatalog.WithQueries(*queries),
		samplecatalog.WithWorkers(*workers),
		samplecatalog.WithForce(*force),
		samplecatalog.WithLogger(log),
	}
	if *tarball != "" {
		opts = append(opts, samplecatalog.WithTarball(*tarball))
	}
	b, err := samplecatalog.New(*out, opts...)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := b.Build(ctx)
	if err != nil {
		return err
	}
	state := "built"
	if res.Skipped {
		state = "up to date"
	}
	fmt.Printf("sample catalogue %s: %s (%d products, %d voice-overs, %d queries)\n", state, res.Dir, res.Products, res.Voices, res.Queries)
	return nil
}
