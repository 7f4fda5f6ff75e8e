// Command build-starter writes omnirank's starter models into a folder laid
// out like the bucket: OUT_DIR/models/<name>/<version>/{model.onnx,manifest.json}.
//
//	go run ./cmd/build-starter OUT_DIR [text|image|audio ...]
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
	for _, mod := range mods {
		_, man, err := starter.Build(mod)
		if err != nil {
			slog.Error("build-starter failed", "err", err)
			os.Exit(1)
		}
		dir := filepath.Join(os.Args[1], filepath.FromSlash(manifest.FolderKey(man.Name, man.Version)))
		if _, err := starter.WriteFolder(dir, mod); err != nil {
			slog.Error("build-starter failed", "err", err)
			os.Exit(1)
		}
		slog.Info("starter model written", "model", man.ID(), "dir", dir)
	}
}
