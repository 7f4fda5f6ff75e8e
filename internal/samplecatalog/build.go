package samplecatalog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/disintegration/imaging"
	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/wordnet"
)

// Media file names inside a product folder, and other output names.
const (
	ImageFile   = "image.png"
	VoiceFile   = "voice.wav"
	CatalogFile = "catalog.jsonl"
	QueriesDir  = "queries"
	QueriesFile = "queries.json"
	StampFile   = ".stamp"
)

// Defaults.
const (
	DefaultLimit   = 360
	DefaultQueries = 4
	// Product voice-overs: espeak-ng voice and words per minute.
	ProductVoice = "en-us"
	ProductSpeed = 160
	// Query clips are spoken differently from the product voice-overs.
	QueryVoice = "en-gb"
	QuerySpeed = 140
	// SampleRate of every WAV file written (mono, 16-bit PCM).
	SampleRate = 16000
)

// generatorVersion is part of the stamp: bump it when the output changes
// for the same options in a way the tables below do not show (the stamp
// also hashes every mapping and wording table, so editing one rebuilds).
// 2: queries/eval.jsonl; 3: queries/synonyms.jsonl and titles.jsonl;
// 5: queries/spoken.jsonl; 6: voice-overs marked as speech.
const generatorVersion = "samplecatalog/6"

// tablesDigest hashes the tables the products are made from. fmt prints
// maps with sorted keys, so the digest is stable.
func tablesDigest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%v\n%v\n%v\n%v\n%v\n%v\n%v\n%v\n%v\n%v\n%v\n%v\n",
		titleOverrides, subcategoryRules, excluded, smallWords, acronyms, priceRanges,
		brands, materials, openers, closers, leafNames, edible)
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultCacheDir is where the extracted emoji package is kept:
// $OMNIRANK_CACHE, else $XDG_CACHE_HOME/omnirank, else ~/.cache/omnirank
// (the folder scripts/fetch-onnxruntime.sh uses).
func DefaultCacheDir() string {
	if d := os.Getenv("OMNIRANK_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "omnirank")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "omnirank")
	}
	return filepath.Join(os.TempDir(), "omnirank-cache")
}

// Builder builds a sample catalogue folder.
type Builder struct {
	out        string
	cache      string
	tarball    string
	limit      int
	voiceEvery int
	queries    int
	workers    int
	force      bool
	wordnetDir string
	log        *slog.Logger
}

// Option configures a Builder.
type Option func(*Builder) error

// WithCacheDir sets where the extracted emoji package is kept.
func WithCacheDir(dir string) Option {
	return func(b *Builder) error {
		if dir == "" {
			return fmt.Errorf("%w: empty cache folder", ErrInvalidOption)
		}
		b.cache = dir
		return nil
	}
}

// WithTarball uses a local copy of the package tarball instead of npm pack.
// Its sha256 must still match.
func WithTarball(file string) Option {
	return func(b *Builder) error {
		if file == "" {
			return fmt.Errorf("%w: empty tarball path", ErrInvalidOption)
		}
		b.tarball = file
		return nil
	}
}

// WithLimit sets the number of products (at least 1; fewer when the
// package has fewer product-like emoji).
func WithLimit(n int) Option {
	return func(b *Builder) error {
		if n < 1 {
			return fmt.Errorf("%w: limit %d, want at least 1", ErrInvalidOption, n)
		}
		b.limit = n
		return nil
	}
}

// WithVoiceEvery gives every k-th product a voice-over (1: all, 2: every
// second); 0 makes none, and then espeak-ng and sox are not needed for
// products.
func WithVoiceEvery(k int) Option {
	return func(b *Builder) error {
		if k < 0 {
			return fmt.Errorf("%w: voice every %d, want 0 or more", ErrInvalidOption, k)
		}
		b.voiceEvery = k
		return nil
	}
}

// WithQueries sets the number of sample queries of each kind (image,
// audio, text); 0 makes none.
func WithQueries(n int) Option {
	return func(b *Builder) error {
		if n < 0 {
			return fmt.Errorf("%w: %d queries, want 0 or more", ErrInvalidOption, n)
		}
		b.queries = n
		return nil
	}
}

// WithWorkers bounds how many espeak-ng/sox runs go at once (default
// GOMAXPROCS).
func WithWorkers(n int) Option {
	return func(b *Builder) error {
		if n < 1 {
			return fmt.Errorf("%w: %d workers, want at least 1", ErrInvalidOption, n)
		}
		b.workers = n
		return nil
	}
}

// WithForce rebuilds even when the output's stamp matches.
func WithForce(force bool) Option {
	return func(b *Builder) error { b.force = force; return nil }
}

// WithWordNetDir reads WordNet (for the labelled synonym queries) from
// dir instead of wordnet.DefaultDir.
func WithWordNetDir(dir string) Option {
	return func(b *Builder) error {
		if dir == "" {
			return fmt.Errorf("%w: empty WordNet folder", ErrInvalidOption)
		}
		b.wordnetDir = dir
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(b *Builder) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		b.log = l
		return nil
	}
}

// New returns a Builder writing the catalogue into out.
func New(out string, opts ...Option) (*Builder, error) {
	if out == "" {
		return nil, fmt.Errorf("%w: empty output folder", ErrInvalidOption)
	}
	b := &Builder{
		out:        filepath.Clean(out),
		cache:      DefaultCacheDir(),
		limit:      DefaultLimit,
		voiceEvery: 1,
		queries:    DefaultQueries,
		workers:    runtime.GOMAXPROCS(0),
		wordnetDir: wordnet.DefaultDir,
		log:        slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		if err := o(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Result says what a Build did.
type Result struct {
	Dir      string `json:"-"`
	Stamp    string `json:"stamp"`
	Products int    `json:"products"`
	Voices   int    `json:"voices"`
	Queries  int    `json:"queries"`
	// SynonymQueries and TitleQueries count the labelled text queries
	// (queries/synonyms.jsonl, queries/titles.jsonl; none without WordNet).
	SynonymQueries int `json:"synonym_queries"`
	TitleQueries   int `json:"title_queries"`
	SpokenQueries  int `json:"spoken_queries"`
	// Skipped is true when the output was already up to date.
	Skipped bool `json:"-"`
}

// stamp identifies what a build is made from; installing WordNet later
// changes it (the labelled queries come from WordNet).
func (b *Builder) stamp() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n%s@%s %s\nlimit=%d voice=%d queries=%d\nproduct-voice=%s/%d query-voice=%s/%d rate=%d\nwordnet=%s\n",
		generatorVersion, tablesDigest(), EmojiPackage, EmojiVersion, EmojiTarballSHA256,
		b.limit, b.voiceEvery, b.queries, ProductVoice, ProductSpeed, QueryVoice, QuerySpeed, SampleRate, wordnetStamp(b.wordnetDir))
	return hex.EncodeToString(h.Sum(nil))
}

// readStamp reads a folder's stamp file; ok is false when there is none.
func readStamp(dir string) (Result, bool) {
	data, err := os.ReadFile(filepath.Join(dir, StampFile))
	if err != nil {
		return Result{}, false
	}
	var r Result
	if json.Unmarshal(data, &r) != nil || r.Stamp == "" {
		return Result{}, false
	}
	return r, true
}

// needTool checks that a program is on PATH.
func needTool(name, pkg, why string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not on PATH (apt-get install %s), needed %s", ErrToolMissing, name, pkg, why)
	}
	return p, nil
}

type tools struct{ espeak, sox string }

// Build writes the catalogue, or does nothing when the output's stamp
// matches. The new catalogue is built beside the output folder and moved
// into place at the end, so a failed or cancelled build leaves the old
// one as it was.
func (b *Builder) Build(ctx context.Context) (Result, error) {
	stamp := b.stamp()
	if prev, ok := readStamp(b.out); ok && prev.Stamp == stamp && !b.force {
		if _, err := os.Stat(filepath.Join(b.out, CatalogFile)); err == nil {
			prev.Dir, prev.Skipped = b.out, true
			b.log.Info("sample catalogue up to date", "dir", b.out, "products", prev.Products)
			return prev, nil
		}
	}
	if err := checkOutputIsOurs(b.out); err != nil {
		return Result{}, err
	}
	var t tools
	if b.voiceEvery > 0 || b.queries > 0 {
		var err error
		if t.espeak, err = needTool("espeak-ng", "espeak-ng", "for the voice-overs"); err != nil {
			return Result{}, err
		}
		if t.sox, err = needTool("sox", "sox", "to convert the voice-overs to 16 kHz"); err != nil {
			return Result{}, err
		}
	}
	src, err := EnsureSource(ctx, b.cache, b.tarball, b.log)
	if err != nil {
		return Result{}, err
	}
	emojis, err := src.Emojis()
	if err != nil {
		return Result{}, err
	}
	cands := Select(emojis, b.limit)
	if len(cands) == 0 {
		return Result{}, fmt.Errorf("%w: no product-like emoji in %s", ErrSource, src.EmojiJSONPath())
	}
	if err := os.MkdirAll(filepath.Dir(b.out), 0o755); err != nil {
		return Result{}, fmt.Errorf("create output parent: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(b.out), "."+filepath.Base(b.out)+".tmp-*")
	if err != nil {
		return Result{}, fmt.Errorf("create build folder: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op after the final rename
	b.log.Info("building sample catalogue", "dir", b.out, "products", len(cands), "voice_every", b.voiceEvery)

	products := make([]storage.Product, len(cands))
	err = runPool(ctx, b.workers, len(cands), func(ctx context.Context, i int) error {
		p, err := b.writeProduct(ctx, t, src, tmp, cands[i], b.voiceEvery > 0 && i%b.voiceEvery == 0)
		products[i] = p
		return err
	})
	if err != nil {
		return Result{}, err
	}
	queries, err := b.writeQueries(ctx, t, src, tmp, cands, products)
	if err != nil {
		return Result{}, err
	}
	if err := writeCatalog(filepath.Join(tmp, CatalogFile), products); err != nil {
		return Result{}, err
	}
	res := Result{Dir: b.out, Stamp: stamp, Products: len(products), Queries: len(queries)}
	if res.SynonymQueries, res.TitleQueries, err = b.writeLabelled(tmp, products); err != nil {
		return Result{}, err
	}
	if b.voiceEvery > 0 {
		if res.SpokenQueries, err = b.writeSpoken(ctx, t, tmp, products); err != nil {
			return Result{}, err
		}
	}
	for _, p := range products {
		for _, m := range p.Media {
			if m.Kind == "audio" {
				res.Voices++
			}
		}
	}
	if err := writeJSON(filepath.Join(tmp, StampFile), res); err != nil {
		return Result{}, err
	}
	if err := swapInto(tmp, b.out); err != nil {
		return Result{}, err
	}
	b.log.Info("sample catalogue built", "dir", b.out, "products", res.Products, "voices", res.Voices, "queries", res.Queries)
	return res, nil
}

// checkOutputIsOurs refuses an existing, non-empty output folder without a
// stamp: it was not made here and is not replaced.
func checkOutputIsOurs(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read output folder %s: %w", out, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, StampFile)); err != nil {
		return fmt.Errorf("%w: %s is not empty and has no %s", ErrOutputNotOurs, out, StampFile)
	}
	return nil
}

// swapInto moves the finished build folder to out, replacing a previous
// build.
func swapInto(tmp, out string) error {
	old := ""
	if _, err := os.Stat(out); err == nil {
		old = tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("move old catalogue aside: %w", err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return fmt.Errorf("move catalogue into place: %w", err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("remove old catalogue: %w", err)
		}
	}
	return nil
}

// writeProduct writes one product folder: the picture, the voice-over when
// asked, and product.json.
func (b *Builder) writeProduct(ctx context.Context, t tools, src Source, root string, c Candidate, voice bool) (storage.Product, error) {
	id := c.Emoji.ID()
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return storage.Product{}, fmt.Errorf("product %s: %w", id, err)
	}
	pic, err := os.ReadFile(src.ImagePath(c.Emoji.Image))
	if err != nil {
		return storage.Product{}, fmt.Errorf("%w: product %s: %w", ErrSource, id, err)
	}
	img, err := png.Decode(bytes.NewReader(pic))
	if err != nil {
		return storage.Product{}, fmt.Errorf("%w: decode image %s: %w", ErrSource, c.Emoji.Image, err)
	}
	p := NewProduct(c, DominantColour(img))
	if err := os.WriteFile(filepath.Join(dir, ImageFile), pic, 0o644); err != nil {
		return storage.Product{}, fmt.Errorf("product %s: %w", id, err)
	}
	p.Media = []storage.Media{{Key: ImageFile, Kind: "image", ContentType: "image/png"}}
	if voice {
		if err := speak(ctx, t, VoiceText(p), ProductVoice, ProductSpeed, filepath.Join(dir, VoiceFile)); err != nil {
			return storage.Product{}, fmt.Errorf("product %s: %w", id, err)
		}
		// Spoken words: transcribed at ingest (role extract:speech).
		p.Media = append(p.Media, storage.Media{Key: VoiceFile, Kind: "audio", ContentType: "audio/wav", Speech: true})
	}
	if err := writeJSON(filepath.Join(dir, storage.ProductFile), p); err != nil {
		return storage.Product{}, err
	}
	return p, nil
}

// speak says text with espeak-ng and converts it with sox to 16 kHz mono
// 16-bit PCM at dst. sox runs in repeatable mode, so the same text gives
// the same bytes.
func speak(ctx context.Context, t tools, text, voice string, speed int, dst string) error {
	raw := dst + ".raw.wav"
	defer os.Remove(raw)
	cmd := exec.CommandContext(ctx, t.espeak, "-v", voice, "-s", fmt.Sprint(speed), "-w", raw, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("espeak-ng %q: %w: %s", text, err, strings.TrimSpace(string(out)))
	}
	cmd = exec.CommandContext(ctx, t.sox, "-R", raw, "-r", fmt.Sprint(SampleRate), "-c", "1", "-b", "16", dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("sox %s: %w: %s", raw, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Query is one sample query input and the product it should find.
type Query struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"` // "image", "audio" or "text"
	Path        string `json:"path,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Text        string `json:"text,omitempty"`
	// Expect is the id of the product the query should find.
	Expect string `json:"expect"`
	Note   string `json:"note,omitempty"`
}

// QuerySet is the content of queries/queries.json. Paths are relative to
// the catalogue folder.
type QuerySet struct {
	Queries []Query `json:"queries"`
}

// queryTarget spreads the queries of one kind over the catalogue; each
// kind starts at a different offset so that kinds ask for different
// products.
func queryTarget(kind, i, n, total int) int {
	return (i*total/n + kind*total/(3*n) + kind) % total
}

// writeQueries writes the query inputs and queries.json.
func (b *Builder) writeQueries(ctx context.Context, t tools, src Source, root string, cands []Candidate, products []storage.Product) ([]Query, error) {
	if b.queries == 0 {
		return nil, nil
	}
	dir := filepath.Join(root, QueriesDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("queries: %w", err)
	}
	n := min(b.queries, len(products))
	var qs []Query
	for i := range n {
		k := queryTarget(0, i, n, len(products))
		q, err := writeImageQuery(src, dir, i, cands[k], products[k])
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := products[queryTarget(1, i, n, len(products))]
		q := Query{
			ID: fmt.Sprintf("audio-%d", i+1), Kind: "audio", Path: QueriesDir + "/" + fmt.Sprintf("audio-%d.wav", i+1),
			ContentType: "audio/wav", Expect: p.ID,
			Note: fmt.Sprintf("the title spoken by espeak-ng voice %s at %d wpm (products use %s at %d)", QueryVoice, QuerySpeed, ProductVoice, ProductSpeed),
		}
		if err := speak(ctx, t, p.Title, QueryVoice, QuerySpeed, filepath.Join(root, filepath.FromSlash(q.Path))); err != nil {
			return nil, fmt.Errorf("query %s: %w", q.ID, err)
		}
		qs = append(qs, q)
	}
	for i := range n {
		k := queryTarget(2, i, n, len(products))
		text, note := strings.ToLower(products[k].Title), "the title in lower case"
		if a := Aliases(cands[k].Title, cands[k].Emoji.ShortNames); len(a) > 0 && !cands[k].Plush {
			text, note = a[0], "another name of the emoji, not in the title"
		}
		qs = append(qs, Query{ID: fmt.Sprintf("text-%d", i+1), Kind: "text", Text: text, Expect: products[k].ID, Note: note})
	}
	if err := writeJSON(filepath.Join(dir, QueriesFile), QuerySet{Queries: qs}); err != nil {
		return nil, err
	}
	if err := writeEvalQueries(dir, qs); err != nil {
		return nil, err
	}
	return qs, nil
}

// writeImageQuery writes one query picture: even queries are the emoji cut
// from the 32-pixel sprite sheet (the same artwork at another size, PNG);
// odd ones are the product picture cropped, enlarged and re-encoded as
// JPEG on white.
func writeImageQuery(src Source, dir string, i int, c Candidate, p storage.Product) (Query, error) {
	q := Query{ID: fmt.Sprintf("image-%d", i+1), Kind: "image", Expect: p.ID}
	if i%2 == 0 {
		tile, err := os.ReadFile(src.TilePath(c.Emoji.Image))
		if err != nil {
			return Query{}, fmt.Errorf("%w: query %s: %w", ErrSource, q.ID, err)
		}
		q.Path, q.ContentType = QueriesDir+"/"+q.ID+".png", "image/png"
		q.Note = "the same emoji at 32 pixels, cut from the package's sprite sheet"
		if err := os.WriteFile(filepath.Join(dir, q.ID+".png"), tile, 0o644); err != nil {
			return Query{}, fmt.Errorf("write query %s: %w", q.ID, err)
		}
		return q, nil
	}
	img, err := loadPNG(src.ImagePath(c.Emoji.Image))
	if err != nil {
		return Query{}, err
	}
	b := img.Bounds()
	cropped := imaging.Crop(img, image.Rect(b.Min.X+3, b.Min.Y+2, b.Max.X-1, b.Max.Y-2))
	big := imaging.Resize(cropped, 96, 0, imaging.Lanczos)
	flat := imaging.New(big.Bounds().Dx(), big.Bounds().Dy(), color.White)
	flat = imaging.Overlay(flat, big, image.Pt(0, 0), 1)
	q.Path, q.ContentType = QueriesDir+"/"+q.ID+".jpg", "image/jpeg"
	q.Note = "the product picture cropped, resized to 96 pixels and re-encoded as JPEG on white"
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, flat, &jpeg.Options{Quality: 85}); err != nil {
		return Query{}, fmt.Errorf("encode query %s: %w", q.ID, err)
	}
	if err := os.WriteFile(filepath.Join(dir, q.ID+".jpg"), buf.Bytes(), 0o644); err != nil {
		return Query{}, fmt.Errorf("write query %s: %w", q.ID, err)
	}
	return q, nil
}

func loadPNG(file string) (image.Image, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	defer f.Close()
	img, err := png.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%w: decode image %s: %w", ErrSource, file, err)
	}
	return img, nil
}

func writePNG(file string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("encode %s: %w", file, err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// writeCatalog writes catalog.jsonl: one product per line, media keys
// relative to the catalogue folder (<id>/image.png).
func writeCatalog(file string, products []storage.Product) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, p := range products {
		p.Media = append([]storage.Media(nil), p.Media...)
		for i := range p.Media {
			p.Media[i].Key = p.ID + "/" + p.Media[i].Key
		}
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("encode catalogue line %s: %w", p.ID, err)
		}
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

func writeJSON(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", file, err)
	}
	if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// runPool runs fn for 0..n-1 on at most workers goroutines, stops handing
// out work at the first error or when ctx ends, and waits for every
// goroutine before returning.
func runPool(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
