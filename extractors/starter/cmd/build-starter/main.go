// Command build-starter writes omnirank's starter models into a folder laid
// out like the bucket: OUT_DIR/models/<name>/<version>/{model.onnx,manifest.json}.
//
//	go run ./extractors/starter/cmd/build-starter OUT_DIR [text|image|audio ...]
//
// The output is deterministic: the same bytes on every run and machine.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/starter"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: build-starter OUT_DIR [text|image|audio ...]")
		os.Exit(2)
	}
	mods := os.Args[2:]
	if len(mods) == 0 {
		mods = starter.Modalities
	}
	if err := run(os.Args[1], mods); err != nil {
		slog.Error("build-starter failed", "err", err)
		os.Exit(1)
	}
}

func run(out string, mods []string) error {
	for _, mod := range mods {
		model, man, err := starter.Build(mod)
		if err != nil {
			return err
		}
		mb, err := man.Marshal()
		if err != nil {
			return err
		}
		dir := filepath.Join(out, filepath.FromSlash(man.Prefix()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, manifest.ModelFile), model, 0o644); err != nil {
			return fmt.Errorf("write model: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, manifest.FileName), mb, 0o644); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
		slog.Info("starter model written", "model", man.ID(), "dir", dir, "bytes", len(model))
	}
	return nil
}
