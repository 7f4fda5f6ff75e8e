package samplecatalog

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"
)

// The pinned source package.
const (
	EmojiPackage = "emoji-datasource-google"
	EmojiVersion = "16.0.0"
	// EmojiTarballSHA256 is the sha256 of the package tarball npm pack
	// writes, emoji-datasource-google-16.0.0.tgz.
	EmojiTarballSHA256 = "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438"
)

// extractVersion changes when the set of files taken from the tarball
// changes, so that an older extraction is redone.
const extractVersion = "2"

// Files taken from the tarball, relative to its package/ folder.
const (
	emojiJSONFile = "emoji.json"
	licenseFile   = "LICENSE"
	imageDir      = "img/google/64"
	// querySheet is the 32-pixel sprite sheet. At extraction the tiles of
	// mapped emoji are cut from it into tileDir, and the sheet is dropped:
	// query images are the artwork at another size, not a copy.
	querySheet     = "img/google/sheets-clean/32.png"
	querySheetSize = 32
	tileDir        = "img/google/32"
	maxEntryBytes  = 64 << 20
)

// TarballName is the file name npm pack gives the pinned package.
func TarballName() string { return EmojiPackage + "-" + EmojiVersion + ".tgz" }

// Source is the extracted part of the emoji package on disk.
type Source struct{ Dir string }

// EmojiJSONPath is the path of emoji.json.
func (s Source) EmojiJSONPath() string { return filepath.Join(s.Dir, emojiJSONFile) }

// ImagePath is the path of one 64-pixel emoji PNG named in emoji.json.
func (s Source) ImagePath(image string) string {
	return filepath.Join(s.Dir, filepath.FromSlash(imageDir), filepath.Base(image))
}

// TilePath is the path of the 32-pixel version of an emoji PNG, cut from
// the package's sprite sheet; only emoji of mapped subcategories have one.
func (s Source) TilePath(image string) string {
	return filepath.Join(s.Dir, filepath.FromSlash(tileDir), filepath.Base(image))
}

// Emojis reads and parses the source's emoji.json.
func (s Source) Emojis() ([]Emoji, error) {
	f, err := os.Open(s.EmojiJSONPath())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	defer f.Close()
	return ParseEmojiJSON(f)
}

// wanted says whether a tarball entry (below package/) is extracted.
func wanted(name string) bool {
	switch name {
	case emojiJSONFile, licenseFile, querySheet:
		return true
	}
	return path.Dir(name) == imageDir && strings.HasSuffix(name, ".png")
}

func completeMarker() string { return EmojiTarballSHA256 + " " + extractVersion + "\n" }

// EnsureSource returns the extracted source under cacheDir, extracting it
// first when missing. The tarball comes from tarball when set, else from
// cacheDir/<TarballName> when present, else from `npm pack` (which runs no
// package scripts). Its sha256 must be EmojiTarballSHA256.
func EnsureSource(ctx context.Context, cacheDir, tarball string, log *slog.Logger) (Source, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := Source{Dir: filepath.Join(cacheDir, EmojiPackage+"-"+EmojiVersion)}
	if b, err := os.ReadFile(filepath.Join(src.Dir, ".complete")); err == nil && string(b) == completeMarker() {
		return src, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Source{}, fmt.Errorf("create cache folder: %w", err)
	}
	fetched := false
	if tarball == "" {
		tarball = filepath.Join(cacheDir, TarballName())
		if _, err := os.Stat(tarball); errors.Is(err, fs.ErrNotExist) {
			if err := npmPack(ctx, cacheDir, log); err != nil {
				return Source{}, err
			}
			fetched = true
		}
	}
	if err := verifySHA256(tarball, EmojiTarballSHA256); err != nil {
		if fetched {
			os.Remove(tarball)
		}
		return Source{}, err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".extract-*")
	if err != nil {
		return Source{}, fmt.Errorf("create extraction folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	n, err := extract(ctx, tarball, tmp)
	if err != nil {
		return Source{}, err
	}
	for _, need := range []string{emojiJSONFile, licenseFile, querySheet} {
		if _, err := os.Stat(filepath.Join(tmp, filepath.FromSlash(need))); err != nil {
			return Source{}, fmt.Errorf("%w: tarball %s lacks package/%s", ErrSource, tarball, need)
		}
	}
	tiles, err := cutTiles(ctx, tmp)
	if err != nil {
		return Source{}, err
	}
	n += tiles
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(completeMarker()), 0o644); err != nil {
		return Source{}, fmt.Errorf("write extraction marker: %w", err)
	}
	if err := os.RemoveAll(src.Dir); err != nil {
		return Source{}, fmt.Errorf("remove old extraction: %w", err)
	}
	if err := os.Rename(tmp, src.Dir); err != nil {
		// Another process may have finished the same extraction first.
		if b, rerr := os.ReadFile(filepath.Join(src.Dir, ".complete")); rerr == nil && string(b) == completeMarker() {
			return src, nil
		}
		return Source{}, fmt.Errorf("move extraction into place: %w", err)
	}
	log.Info("emoji source extracted", "dir", src.Dir, "files", n)
	if fetched {
		// The extraction is what later runs use; the 74 MB tarball is not kept.
		os.Remove(tarball)
	}
	return src, nil
}

// npmPack fetches the pinned package tarball into dir.
func npmPack(ctx context.Context, dir string, log *slog.Logger) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w: npm is not on PATH (apt-get install npm), needed once to fetch %s@%s", ErrToolMissing, EmojiPackage, EmojiVersion)
	}
	tmp, err := os.MkdirTemp(dir, ".npm-pack-*")
	if err != nil {
		return fmt.Errorf("create npm pack folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	log.Info("fetching emoji package with npm pack", "package", EmojiPackage+"@"+EmojiVersion)
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--ignore-scripts", EmojiPackage+"@"+EmojiVersion)
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm pack %s@%s: %w: %s", EmojiPackage, EmojiVersion, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(filepath.Join(tmp, TarballName()), filepath.Join(dir, TarballName())); err != nil {
		return fmt.Errorf("npm pack %s@%s: %w", EmojiPackage, EmojiVersion, err)
	}
	return nil
}

// verifySHA256 checks a file's sha256.
func verifySHA256(file, want string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read tarball %s: %w", file, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: %s has sha256 %s, want %s", ErrChecksum, file, got, want)
	}
	return nil
}

// extract copies the wanted entries of the tarball into dir and returns
// how many it wrote.
func extract(ctx context.Context, tarball, dir string) (int, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return 0, fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("%w: gunzip %s: %w", ErrSource, tarball, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("%w: read tarball %s: %w", ErrSource, tarball, err)
		}
		name, ok := strings.CutPrefix(hdr.Name, "package/")
		if !ok || hdr.Typeflag != tar.TypeReg || !filepath.IsLocal(name) || !wanted(name) {
			continue
		}
		if hdr.Size > maxEntryBytes {
			return n, fmt.Errorf("%w: tarball entry %s is %d bytes", ErrSource, hdr.Name, hdr.Size)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return n, fmt.Errorf("extract %s: %w", name, err)
		}
		out, err := os.Create(dst)
		if err != nil {
			return n, fmt.Errorf("extract %s: %w", name, err)
		}
		_, err = io.Copy(out, io.LimitReader(tr, maxEntryBytes))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, fmt.Errorf("extract %s: %w", name, err)
		}
		n++
	}
}

// cutTiles cuts the 32-pixel tile of every emoji of a mapped subcategory
// out of the sprite sheet in an extraction folder, then removes the sheet.
// Sheet cells are the tile plus a one-pixel border.
func cutTiles(ctx context.Context, dir string) (int, error) {
	src := Source{Dir: dir}
	emojis, err := src.Emojis()
	if err != nil {
		return 0, err
	}
	sheetFile := filepath.Join(dir, filepath.FromSlash(querySheet))
	sheet, err := loadPNG(sheetFile)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(tileDir)), 0o755); err != nil {
		return 0, fmt.Errorf("create tile folder: %w", err)
	}
	n := 0
	for _, e := range emojis {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, mapped := subcategoryRules[e.Subcategory]; !mapped || !e.HasImgGoogle {
			continue
		}
		cell := querySheetSize + 2
		x, y := e.SheetX*cell+1, e.SheetY*cell+1
		r := image.Rect(x, y, x+querySheetSize, y+querySheetSize)
		if !r.In(sheet.Bounds()) {
			return n, fmt.Errorf("%w: sheet cell %d,%d of %s is outside the %v sheet", ErrSource, e.SheetX, e.SheetY, e.Image, sheet.Bounds())
		}
		if err := writePNG(src.TilePath(e.Image), imaging.Crop(sheet, r)); err != nil {
			return n, err
		}
		n++
	}
	if err := os.Remove(sheetFile); err != nil {
		return n, fmt.Errorf("remove sprite sheet: %w", err)
	}
	os.Remove(filepath.Dir(sheetFile)) // now empty
	return n, nil
}
