package starter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/omnirank/omnirank/extractors/manifest"
)

// WriteFolder builds the starter model of a modality and writes model.onnx
// and manifest.json into dir, ready for registration.
func WriteFolder(dir, modality string) (manifest.Manifest, error) {
	return WriteVersion(dir, modality, Version)
}

// WriteVersion is WriteFolder with the manifest's version set to version:
// the same graph registered as another model (name@version), which a
// re-embedding campaign must run again; demos and tests of campaigns use it.
func WriteVersion(dir, modality, version string) (manifest.Manifest, error) {
	model, man, err := Build(modality)
	if err != nil {
		return manifest.Manifest{}, err
	}
	man.Version = version
	if err := man.Validate(); err != nil {
		return manifest.Manifest{}, err
	}
	mb, err := man.Marshal()
	if err != nil {
		return manifest.Manifest{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return manifest.Manifest{}, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.ModelFile), model, 0o644); err != nil {
		return manifest.Manifest{}, fmt.Errorf("write model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.FileName), mb, 0o644); err != nil {
		return manifest.Manifest{}, fmt.Errorf("write manifest: %w", err)
	}
	return man, nil
}

// WriteText2Folder builds starter-text@2 with cfg and writes model.onnx,
// the vocabulary file and manifest.json into dir.
func WriteText2Folder(ctx context.Context, dir string, cfg Text2Config) (Text2, error) {
	t, err := BuildText2(ctx, cfg)
	if err != nil {
		return Text2{}, err
	}
	mb, err := t.Manifest.Marshal()
	if err != nil {
		return Text2{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Text2{}, fmt.Errorf("create %s: %w", dir, err)
	}
	files := t.Files()
	files[manifest.FileName] = mb // last: the folder is complete once it is there
	for _, name := range []string{manifest.ModelFile, WordVocabFile, manifest.FileName} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return Text2{}, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return t, nil
}
