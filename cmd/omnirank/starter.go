package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/omnirank/omnirank/extractors/starter"
)

// buildStarter writes one folder per starter model under dir, each ready
// for `omnirank models register`, under version (starter.Version when
// empty; another version is the same graph as another model, which a
// re-embedding campaign runs again: the demo's upgrade).
func buildStarter(dir, version string, stdout io.Writer) error {
	if version == "" {
		version = starter.Version
	}
	for _, mod := range starter.Modalities {
		out := filepath.Join(dir, "starter-"+mod)
		man, err := starter.WriteVersion(out, mod, version)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s -> %s\n", man.ID(), out)
	}
	return nil
}
