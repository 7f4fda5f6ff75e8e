// Package starterdata builds a reproducible benchmark dataset for package
// index out of the project's starter models: synthetic products whose titles
// go through the real starter-text tokenizer and ONNX session and whose
// pictures go through the real image preprocessing and the starter-image
// session, joined into the starter-v1 space (text weight 1, image 1, audio
// 0.5; no product has audio, so that block is zero) with spaces.Join, as
// fusion does.
//
// Products: product i is drawn from a PCG seeded with (Seed, i). Its title
// combines a brand, a colour, a material and a product type, plus optional
// size, audience and pack words ("Nordvik navy wool beanie for kids"). Its
// picture is drawn directly at the model's input size (64×64, so the
// preprocessing does no resampling) and PNG-encoded without compression: a
// light backdrop, the product type's shape in the product's colour with a
// material texture, a jittered position and size, and pixel noise.
//
// Queries are held-out products (indices N … N+Queries-1): even queries are
// the whole product (title and picture, "more like this"), odd queries are
// text-only searches made of the product's colour, material and type
// ("navy wool beanie"), joined with the text block alone, as the ranker
// builds a text query.
//
// Generate is deterministic up to float rounding: ONNX Runtime may group
// the inputs into batches differently from run to run, which can move a
// component by about 1e-7. Load caches the vectors as raw float32 under the
// repository's .cache folder (git-ignored), keyed by N, Queries, Seed and
// the generator version, so benchmarks encode them once and then see
// identical vectors.
package starterdata

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/spaces"
)

// SpaceName is the space the vectors live in (server.StarterSpaceName).
const SpaceName = "starter-v1"

// generatorVersion changes whenever the products or their encoding change,
// so that stale cache files are not reused.
const generatorVersion = 1

// weights are the starter space's block weights (server's starterWeights).
var weights = map[extractors.Modality]float32{extractors.Text: 1, extractors.Image: 1, extractors.Audio: 0.5}

// Config describes a dataset.
type Config struct {
	N       int    // base products (100000)
	Queries int    // queries (1000)
	Seed    uint64 // equal seeds give equal datasets (1)
	// CacheDir holds cached datasets; "" means .cache/indexbench in the
	// repository above the working directory, or the user cache directory
	// outside a repository.
	CacheDir string
	// LibraryPath is the ONNX Runtime library ("" finds it as the
	// extractors package does).
	LibraryPath string
	// Batch is how many products are encoded per call (2048).
	Batch  int
	Logger *slog.Logger // slog.Default()
}

func (c *Config) defaults() error {
	if c.N == 0 {
		c.N = 100000
	}
	if c.Queries == 0 {
		c.Queries = 1000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Batch == 0 {
		c.Batch = 2048
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.N < 1 || c.Queries < 0 || c.Batch < 1 {
		return fmt.Errorf("starter dataset: n=%d queries=%d batch=%d out of range", c.N, c.Queries, c.Batch)
	}
	return nil
}

// Name is the dataset's name in benchmark results, e.g. "starter-100k-seed1".
func (c Config) Name() string {
	n := fmt.Sprint(c.N)
	if c.N >= 1000 && c.N%1000 == 0 {
		n = fmt.Sprintf("%dk", c.N/1000)
	}
	return fmt.Sprintf("starter-%s-seed%d", n, c.Seed)
}

// Load returns the dataset described by cfg from the cache, generating and
// caching it first when it is not there.
func Load(ctx context.Context, cfg Config) (*index.Dataset, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	dir := cfg.CacheDir
	if dir == "" {
		dir = defaultCacheDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-gen%d-n%d-q%d-seed%d.f32", SpaceName, generatorVersion, cfg.N, cfg.Queries, cfg.Seed))
	if d, err := readCache(path, cfg); err == nil {
		cfg.Logger.Info("starter dataset from cache", "path", path)
		return d, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		cfg.Logger.Warn("starter dataset cache unreadable; regenerating", "path", path, "err", err)
	}
	d, err := Generate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := writeCache(path, d); err != nil {
		return nil, err
	}
	cfg.Logger.Info("starter dataset cached", "path", path)
	return d, nil
}

// defaultCacheDir is .cache/indexbench in the repository (the folder with
// go.mod) above the working directory, else the user cache directory.
func defaultCacheDir() string {
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.Join(dir, ".cache", "indexbench")
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "omnirank", "indexbench")
	}
	return filepath.Join(os.TempDir(), "omnirank-indexbench")
}

// Generate encodes the dataset described by cfg with the starter models,
// without the cache.
func Generate(ctx context.Context, cfg Config) (*index.Dataset, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "omnirank-starterdata-*")
	if err != nil {
		return nil, fmt.Errorf("starter dataset: %w", err)
	}
	defer os.RemoveAll(tmp)
	store, err := extractors.NewDirStore(tmp)
	if err != nil {
		return nil, fmt.Errorf("starter dataset: %w", err)
	}
	opts := []extractors.Option{extractors.WithSession(ort.WithDevice(ort.DeviceCPU)), extractors.WithLogger(cfg.Logger)}
	if cfg.LibraryPath != "" {
		opts = append(opts, extractors.WithRuntime(ort.WithLibraryPath(cfg.LibraryPath)))
	}
	reg, err := extractors.NewRegistry(store, opts...)
	if err != nil {
		return nil, fmt.Errorf("starter dataset: %w", err)
	}
	defer reg.Close()
	if _, err := reg.EnsureStarter(ctx); err != nil {
		return nil, fmt.Errorf("starter dataset: register starter models: %w", err)
	}
	sp := spaces.Space{Name: SpaceName}
	encs := map[extractors.Modality]extractors.Encoder{}
	for _, m := range extractors.Modalities {
		enc, err := reg.Default(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("starter dataset: %s model: %w", m, err)
		}
		encs[m] = enc
		sp.Blocks = append(sp.Blocks, spaces.Block{Modality: string(m), Model: enc.Model(), Dim: enc.Dim(), Weight: weights[m]})
	}
	if err := sp.Validate(); err != nil {
		return nil, fmt.Errorf("starter dataset: %w", err)
	}
	d := &index.Dataset{Dim: sp.Dim(), Base: make([]float32, cfg.N*sp.Dim()), Queries: make([]float32, cfg.Queries*sp.Dim())}
	t0 := time.Now()
	total := cfg.N + cfg.Queries
	for lo := 0; lo < total; lo += cfg.Batch {
		hi := min(lo+cfg.Batch, total)
		if err := encodeRange(ctx, cfg, sp, encs, d, lo, hi); err != nil {
			return nil, err
		}
		cfg.Logger.Info("starter dataset", "encoded", hi, "of", total, "elapsed", time.Since(t0).Round(time.Second))
	}
	return d, nil
}

// encodeRange encodes items [lo, hi): base products below cfg.N, queries
// from there on.
func encodeRange(ctx context.Context, cfg Config, sp spaces.Space, encs map[extractors.Modality]extractors.Encoder, d *index.Dataset, lo, hi int) error {
	titles := make([][]byte, 0, hi-lo)
	var pics [][]byte
	var picAt []int // item offset of each picture
	for i := lo; i < hi; i++ {
		p := NewProduct(cfg.Seed, i)
		q := i - cfg.N
		if q >= 0 && q%2 == 1 {
			titles = append(titles, []byte(p.Query()))
			continue
		}
		titles = append(titles, []byte(p.Title()))
		b, err := p.PNG()
		if err != nil {
			return fmt.Errorf("starter dataset: picture %d: %w", i, err)
		}
		pics = append(pics, b)
		picAt = append(picAt, i-lo)
	}
	tv, err := encs[extractors.Text].Encode(ctx, titles)
	if err != nil {
		return fmt.Errorf("starter dataset: encode titles %d-%d: %w", lo, hi, err)
	}
	iv, err := encs[extractors.Image].Encode(ctx, pics)
	if err != nil {
		return fmt.Errorf("starter dataset: encode pictures %d-%d: %w", lo, hi, err)
	}
	imgOf := make([][]float32, hi-lo)
	for j, k := range picAt {
		imgOf[k] = iv[j]
	}
	for i := lo; i < hi; i++ {
		parts := map[string][]float32{string(extractors.Text): tv[i-lo]}
		if v := imgOf[i-lo]; v != nil {
			parts[string(extractors.Image)] = v
		}
		v, _, err := sp.Join(parts)
		if err != nil {
			return fmt.Errorf("starter dataset: join item %d: %w", i, err)
		}
		var dst []float32
		if i < cfg.N {
			dst = d.Row(i)
		} else {
			dst = d.Query(i - cfg.N)
		}
		copy(dst, v)
	}
	return nil
}

// Cache file: magic, then dim, n and queries as u32, then the base and query
// rows as little-endian float32.
const cacheMagic = "ORSTARTR"

func writeCache(path string, d *index.Dataset) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("starter dataset cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".starterdata-*")
	if err != nil {
		return fmt.Errorf("starter dataset cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.WriteString(cacheMagic)
	for _, x := range []int{d.Dim, d.N(), d.NQ()} {
		binary.Write(w, binary.LittleEndian, uint32(x))
	}
	var b [4]byte
	for _, rows := range [][]float32{d.Base, d.Queries} {
		for _, x := range rows {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			w.Write(b[:])
		}
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("starter dataset cache: %w", err)
	}
	return nil
}

func readCache(path string, cfg Config) (*index.Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [len(cacheMagic) + 12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	dim := int(binary.LittleEndian.Uint32(hdr[8:]))
	n := int(binary.LittleEndian.Uint32(hdr[12:]))
	nq := int(binary.LittleEndian.Uint32(hdr[16:]))
	if string(hdr[:8]) != cacheMagic || dim == 0 || dim > 1<<16 || n != cfg.N || nq != cfg.Queries {
		return nil, fmt.Errorf("header %q dim %d n %d queries %d does not match", hdr[:8], dim, n, nq)
	}
	d := &index.Dataset{Dim: dim, Base: make([]float32, n*dim), Queries: make([]float32, nq*dim)}
	buf := make([]byte, 4*dim)
	for _, rows := range [][]float32{d.Base, d.Queries} {
		for o := 0; o < len(rows); o += dim {
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, fmt.Errorf("rows: %w", err)
			}
			for k := range dim {
				rows[o+k] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*k:]))
			}
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing bytes")
	}
	return d, nil
}

// Product is one synthetic catalogue item.
type Product struct {
	Brand, Colour, Material, Type string
	Extras                        []string // size, audience, pack words
	rgb                           [3]float64
	shape, texture                int
	seed                          uint64
	index                         int
}

// Title is the product's title.
func (p Product) Title() string {
	return strings.Join(append([]string{p.Brand, p.Colour, p.Material, p.Type}, p.Extras...), " ")
}

// Query is a short text search for the product: colour, material, type.
func (p Product) Query() string {
	return p.Colour + " " + p.Material + " " + p.Type
}

type named struct {
	name string
	v    int // shape of a product type, texture of a material
}

var (
	brands = strings.Fields(`Acme Nordvik Lumen Halden Arcadia Brisa Corvo Dunmore Elkin Fjell
		Galen Hestia Isola Juno Kestrel Larkspur Mistral Nomad Orsa Pelican Quill Rowan Solene
		Tamsin Umber Vantage Willow Xanadu Yarrow Zephyr Alder Birch Cedar Drift Ember Flint
		Grove Harbor Ivory Jasper Kite Linden Maple Nettle Onyx Pine Quartz Reed Sable Thistle`)
	colours = []struct {
		name string
		rgb  [3]float64
	}{
		{"red", [3]float64{200, 30, 35}}, {"crimson", [3]float64{150, 20, 40}}, {"orange", [3]float64{240, 130, 30}},
		{"yellow", [3]float64{240, 215, 40}}, {"olive", [3]float64{120, 125, 40}}, {"green", [3]float64{40, 150, 60}},
		{"teal", [3]float64{30, 130, 130}}, {"turquoise", [3]float64{60, 200, 190}}, {"blue", [3]float64{40, 80, 200}},
		{"navy", [3]float64{25, 35, 90}}, {"purple", [3]float64{120, 50, 150}}, {"pink", [3]float64{240, 140, 180}},
		{"brown", [3]float64{120, 75, 40}}, {"beige", [3]float64{215, 195, 160}}, {"grey", [3]float64{130, 130, 135}},
		{"black", [3]float64{25, 25, 28}}, {"white", [3]float64{245, 245, 240}}, {"silver", [3]float64{190, 195, 200}},
		{"gold", [3]float64{210, 170, 60}}, {"burgundy", [3]float64{110, 25, 45}},
	}
	materials = []named{
		{"cotton", 0}, {"linen", 1}, {"wool", 2}, {"leather", 3}, {"denim", 4}, {"silk", 5},
		{"steel", 6}, {"aluminium", 6}, {"oak", 7}, {"bamboo", 8}, {"ceramic", 9}, {"glass", 5},
		{"plastic", 0}, {"rubber", 3}, {"canvas", 1}, {"velvet", 2},
	}
	types = []named{
		{"t-shirt", 0}, {"shirt", 0}, {"dress", 1}, {"skirt", 1}, {"jacket", 0}, {"coat", 2},
		{"beanie", 3}, {"cap", 3}, {"scarf", 4}, {"sock", 5}, {"running shoe", 6}, {"boot", 5},
		{"sandal", 6}, {"backpack", 2}, {"tote bag", 7}, {"wallet", 8}, {"belt", 4}, {"watch", 9},
		{"sunglasses", 10}, {"mug", 11}, {"teapot", 11}, {"plate", 9}, {"bowl", 3}, {"vase", 12},
		{"lamp", 1}, {"chair", 13}, {"stool", 13}, {"table", 13}, {"cushion", 8}, {"blanket", 8},
		{"towel", 4}, {"rug", 8}, {"frying pan", 9}, {"chef knife", 14}, {"cutting board", 8},
		{"water bottle", 12}, {"yoga mat", 4}, {"headphones", 10}, {"speaker", 2}, {"phone case", 2},
	}
	sizes     = strings.Fields("small medium large XL compact oversized mini")
	audiences = []string{"for men", "for women", "for kids", "unisex"}
	packs     = []string{"set of 2", "pack of 3", "gift set"}
)

// NewProduct draws product i of the dataset with the given seed.
func NewProduct(seed uint64, i int) Product {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	c := colours[r.IntN(len(colours))]
	m := materials[r.IntN(len(materials))]
	t := types[r.IntN(len(types))]
	p := Product{
		Brand: brands[r.IntN(len(brands))], Colour: c.name, Material: m.name, Type: t.name,
		rgb: c.rgb, shape: t.v, texture: m.v, seed: seed, index: i,
	}
	if r.IntN(3) == 0 {
		p.Extras = append(p.Extras, sizes[r.IntN(len(sizes))])
	}
	if r.IntN(3) == 0 {
		p.Extras = append(p.Extras, audiences[r.IntN(len(audiences))])
	}
	if r.IntN(8) == 0 {
		p.Extras = append(p.Extras, packs[r.IntN(len(packs))])
	}
	return p
}

// PictureSize is the side of the drawn pictures: the starter image model's
// input size, so preprocessing does not resample.
const PictureSize = 64

// Picture draws the product's picture.
func (p Product) Picture() *image.NRGBA {
	const s = PictureSize
	r := rand.New(rand.NewPCG(p.seed^0x5eed, uint64(p.index)))
	img := image.NewNRGBA(image.Rect(0, 0, s, s))
	bg := [3]float64{225 + 30*r.Float64(), 225 + 30*r.Float64(), 220 + 30*r.Float64()}
	var col [3]float64
	for k := range col {
		col[k] = p.rgb[k] + 30*(r.Float64()-0.5)
	}
	cx, cy := s*(0.4+0.2*r.Float64()), s*(0.4+0.2*r.Float64())
	rad := s * (0.25 + 0.12*r.Float64())
	phase := r.Float64() * 2 * math.Pi
	for y := range s {
		for x := range s {
			fx, fy := (float64(x)+0.5-cx)/rad, (float64(y)+0.5-cy)/rad
			c := bg
			shade := 1 - 0.15*float64(y)/s // backdrop gradient
			if inShape(p.shape, fx, fy) {
				c = col
				shade = texture(p.texture, fx, fy, phase)
			}
			n := 8 * (r.Float64() - 0.5)
			for k := range c {
				c[k] = math.Max(0, math.Min(255, c[k]*shade+n))
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255})
		}
	}
	return img
}

// PNG is the product's picture as an uncompressed PNG.
func (p Product) PNG() ([]byte, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression}
	if err := enc.Encode(&b, p.Picture()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// inShape reports whether the point (x, y), in units of the object's
// radius around its centre, is inside shape k.
func inShape(k int, x, y float64) bool {
	ax, ay := math.Abs(x), math.Abs(y)
	switch k {
	case 0: // shirt: body plus sleeves
		return (ax < 0.6 && ay < 0.9) || (y < -0.3 && y > -0.8 && ax < 1)
	case 1: // dress, lamp: trapezoid widening downwards
		return ay < 0.95 && ax < 0.3+0.5*(y+1)/2
	case 2: // coat, backpack, speaker: tall rounded rectangle
		return ax < 0.65 && ay < 0.95 && (ax < 0.45 || ay < 0.75)
	case 3: // hat, bowl: half disc
		return y < 0.3 && x*x+(y-0.3)*(y-0.3) < 0.8
	case 4: // scarf, belt, towel, mat: long horizontal band
		return ay < 0.25 && ax < 1
	case 5: // sock, boot: L shape
		return (ax < 0.3 && y > -0.9 && y < 0.5) || (y >= 0.2 && y < 0.6 && x > -0.3 && x < 0.9)
	case 6: // shoe: low wedge
		return y > 0 && y < 0.6 && ax < 1 && y > 0.5-0.5*(x+1)
	case 7: // tote: square with a handle ring
		return (ax < 0.7 && y > -0.2 && y < 0.9) || (math.Abs(math.Hypot(x, y+0.3)-0.45) < 0.1 && y < -0.2)
	case 8: // flat square
		return ax < 0.8 && ay < 0.8
	case 9: // disc
		return x*x+y*y < 0.85
	case 10: // pair of rings
		return math.Abs(math.Hypot(ax-0.5, y)-0.35) < 0.12
	case 11: // mug: cylinder with a handle
		return (ax < 0.5 && ay < 0.7) || (math.Abs(math.Hypot(x-0.55, y)-0.3) < 0.1 && x > 0.5)
	case 12: // bottle, vase: narrow neck on a body
		return (ax < 0.45 && y > -0.3 && y < 0.95) || (ax < 0.18 && y >= -0.95)
	case 13: // furniture: top and legs
		return (ay < 0.15 && y < 0 && ax < 0.9) || (ax > 0.65 && ax < 0.8 && y > -0.1 && y < 0.9)
	default: // knife: thin diagonal
		return math.Abs(x-y) < 0.18 && ax < 0.95 && ay < 0.95
	}
}

// texture is the brightness factor of material texture k at (x, y).
func texture(k int, x, y, phase float64) float64 {
	switch k {
	case 1: // linen, canvas: fine weave
		return 0.9 + 0.1*math.Sin(40*x)*math.Sin(40*y)
	case 2: // wool, velvet: soft dots
		return 0.85 + 0.15*math.Cos(18*x+phase)*math.Cos(18*y)
	case 3: // leather, rubber: darker, mottled
		return 0.7 + 0.1*math.Sin(23*x*y+phase)
	case 4: // denim: diagonal twill
		return 0.85 + 0.15*math.Sin(30*(x+y)+phase)
	case 5: // silk, glass: sheen band
		return 0.8 + 0.4*math.Exp(-8*(x-0.3*y-0.2)*(x-0.3*y-0.2))
	case 6: // metal: horizontal brushed gradient
		return 0.7 + 0.35*(1-math.Abs(y)) + 0.05*math.Sin(60*y)
	case 7: // oak: wood grain
		return 0.75 + 0.2*math.Sin(12*y+3*math.Sin(4*x)+phase)
	case 8: // bamboo: vertical stripes
		return 0.8 + 0.2*math.Sin(14*x+phase)
	case 9: // ceramic: glossy highlight
		return 0.85 + 0.5*math.Exp(-10*((x+0.35)*(x+0.35)+(y+0.35)*(y+0.35)))
	default: // cotton, plastic: plain with soft shading
		return 0.95 - 0.1*y
	}
}
