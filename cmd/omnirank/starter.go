package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/starter"
)

// buildStarter writes the starter model folders under dir, ready for
// `omnirank models register`.
func buildStarter(dir string, stdout io.Writer) error {
	for _, mod := range starter.Modalities {
		model, man, err := starter.Build(mod)
		if err != nil {
			return err
		}
		mb, err := man.Marshal()
		if err != nil {
			return err
		}
		out := filepath.Join(dir, man.Name+"-"+man.Version)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, manifest.ModelFile), model, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, manifest.FileName), mb, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s -> %s (%d bytes)\n", man.ID(), out, len(model))
	}
	return nil
}
