package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/wordnet"
)

// buildStarter writes one folder per starter model under dir, each ready
// for `omnirank models register`: the @1 models always, starter-text@2
// when the WordNet database (Debian's wordnet-base) is installed.
func buildStarter(ctx context.Context, dir, wordnetDir string, stdout, stderr io.Writer) error {
	for _, mod := range starter.Modalities {
		out := filepath.Join(dir, "starter-"+mod)
		man, err := starter.WriteFolder(out, mod)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s -> %s\n", man.ID(), out)
	}
	out := filepath.Join(dir, "starter-text-2")
	t0 := time.Now()
	cfg := starter.DefaultText2
	cfg.WordNetDir = wordnetDir
	t, err := starter.WriteText2Folder(ctx, out, cfg)
	if errors.Is(err, wordnet.ErrMissing) {
		fmt.Fprintf(stderr, "skipped %s: it is learnt from WordNet, which is not installed (apt-get install wordnet-base, or make deps): %v\n", starter.Text2ID, err)
		return nil
	}
	if err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(out, manifest.ModelFile))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s -> %s (%d words, dim %d, model.onnx %.1f MiB, built in %.1f s; registered by the server, not a default)\n",
		t.Manifest.ID(), out, t.Words, t.Manifest.Dim, float64(st.Size())/(1<<20), time.Since(t0).Seconds())
	return nil
}
