package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/omnirank/omnirank/extractors/starter"
)

// buildStarter writes one folder per starter model under dir, each ready
// for `omnirank models register`.
func buildStarter(dir string, stdout io.Writer) error {
	for _, mod := range starter.Modalities {
		out := filepath.Join(dir, "starter-"+mod)
		man, err := starter.WriteFolder(out, mod)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s -> %s\n", man.ID(), out)
	}
	return nil
}
