package preprocess

import (
	"bytes"
	"image"
	_ "image/gif"  // register GIF
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"math"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp" // register WebP
)

// DefaultMaxPixels is the pixel limit used when ImageSpec.MaxPixels is 0.
const DefaultMaxPixels = 40_000_000

// MaxImageSize is the largest output side an ImageSpec may ask for.
const MaxImageSize = 4096

// Resize modes for ImageSpec.Resize.
const (
	// ResizeCenterCrop scales the shortest edge to Size and keeps the
	// centred Size×Size square (the CLIP / ImageNet convention). The square
	// is cut from the source first and then scaled, which equals
	// scale-then-crop up to the filter's reach at the crop border.
	ResizeCenterCrop = "center_crop"
	// ResizeStretch scales the whole image to Size×Size, ignoring aspect.
	ResizeStretch = "stretch"
)

// ImageSpec says how an image becomes a tensor.
type ImageSpec struct {
	// Size is the output side in pixels; the output is square.
	Size int
	// Resize is ResizeCenterCrop (also when empty) or ResizeStretch.
	Resize string
	// Mean and Std normalise each RGB channel: (x*Scale - Mean) / Std.
	Mean, Std [3]float32
	// Scale multiplies 0..255 pixel values before normalisation; 0 means
	// 1/255.
	Scale float32
	// MaxPixels rejects images whose header declares more than this many
	// pixels, before any pixel is decoded (decompression bombs). 0 means
	// DefaultMaxPixels.
	MaxPixels int64
	// Filter is the resampling filter: "linear" (default, fast),
	// "lanczos", "bicubic" (Catmull-Rom), "box" or "nearest".
	Filter string
}

// imagePlan is a validated ImageSpec.
type imagePlan struct {
	size      int
	stretch   bool
	filter    imaging.ResampleFilter
	separable bool // filter has non-negative weights: use resizeSeparable
	maxPixels int64
	lut       [3][256]float32 // v -> (v*scale - mean) / std
	k, c      [3]float32      // x*k + c for non-integer (composited) x
}

func (s ImageSpec) plan() (*imagePlan, error) {
	p := &imagePlan{size: s.Size, maxPixels: s.MaxPixels}
	if s.Size <= 0 || s.Size > MaxImageSize {
		return nil, badSpec("image size %d outside 1..%d", s.Size, MaxImageSize)
	}
	switch s.Resize {
	case "", ResizeCenterCrop:
	case ResizeStretch:
		p.stretch = true
	default:
		return nil, badSpec("unknown resize mode %q", s.Resize)
	}
	switch s.Filter {
	case "", "linear":
		p.filter, p.separable = imaging.Linear, true
	case "lanczos":
		p.filter = imaging.Lanczos
	case "bicubic":
		p.filter = imaging.CatmullRom
	case "box":
		p.filter, p.separable = imaging.Box, true
	case "nearest":
		p.filter = imaging.NearestNeighbor
	default:
		return nil, badSpec("unknown resize filter %q", s.Filter)
	}
	if p.maxPixels < 0 {
		return nil, badSpec("negative MaxPixels %d", s.MaxPixels)
	}
	if p.maxPixels == 0 {
		p.maxPixels = DefaultMaxPixels
	}
	scale := s.Scale
	if scale == 0 {
		scale = 1.0 / 255
	}
	if !finite32(scale) {
		return nil, badSpec("scale %v is not finite", s.Scale)
	}
	for ch := 0; ch < 3; ch++ {
		if s.Std[ch] == 0 || !finite32(s.Std[ch]) || !finite32(s.Mean[ch]) {
			return nil, badSpec("channel %d: mean %v std %v: std must be non-zero and both finite", ch, s.Mean[ch], s.Std[ch])
		}
		p.k[ch] = scale / s.Std[ch]
		p.c[ch] = -s.Mean[ch] / s.Std[ch]
		for v := 0; v < 256; v++ {
			p.lut[ch][v] = (float32(v)*scale - s.Mean[ch]) / s.Std[ch]
		}
	}
	return p, nil
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// ImageTensor decodes a JPEG, PNG, GIF (first frame) or WebP image and
// returns it as a normalised float32 tensor in CHW layout, RGB channel order,
// of length 3*Size*Size. dst is reused when its capacity fits.
//
// The header is checked against spec.MaxPixels before decoding. JPEG EXIF
// orientation is honoured. Grey, palette, CMYK and 16-bit images are
// converted to RGB; transparent pixels are composited over white, so a fully
// transparent pixel reads as white (255, 255, 255).
func ImageTensor(data []byte, spec ImageSpec, dst []float32) ([]float32, error) {
	p, err := spec.plan()
	if err != nil {
		return nil, err
	}
	minSide := 0
	if p.filter.Support > 0 {
		minSide = p.size
	}
	img, orient, err := decodeImage(data, p.maxPixels, minSide)
	if err != nil {
		return nil, err
	}
	sq, err := p.resize(img)
	if err != nil {
		return nil, err
	}
	n := 3 * p.size * p.size
	if cap(dst) >= n {
		dst = dst[:n]
	} else {
		dst = make([]float32, n)
	}
	p.fill(sq, orient, dst)
	return dst, nil
}

// decodeImage checks the header, then decodes. It returns the image and its
// EXIF orientation (1 when none applies). When minSide > 0, a JPEG whose
// shorter side is at least 2×minSide is decoded at a reduced scale in the
// DCT domain (decodeJPEGReduced), several times faster than a full decode:
// at the smallest of 1/8, 1/4 and 1/2 that keeps the shorter side at least
// minSide, so the resize that follows starts from within 2× of its output.
// At 1/8 that is the exact 8×8 box average, from the DC coefficients
// alone; at 1/4 and 1/2 a 2- or 4-point scaled IDCT of each block's lowest
// frequencies, close to the 4×4 or 2×2 box average.
func decodeImage(data []byte, maxPixels int64, minSide int) (img image.Image, orient int, err error) {
	defer recoverBadInput("decode image", &err)
	if len(data) == 0 {
		return nil, 0, badInput("empty image")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, 0, badInput("decode image header: %v", err)
	}
	switch format {
	case "jpeg", "png", "gif", "webp":
	default:
		return nil, 0, badInput("unsupported image format %q", format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, 0, badInput("%s image has empty size %dx%d", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, 0, badInput("%s image %dx%d has %d pixels, over the limit of %d", format, cfg.Width, cfg.Height, px, maxPixels)
	}
	if n := jpegReduction(format, cfg, minSide); n > 0 {
		if small, ok := decodeJPEGReduced(data, n); ok {
			return small, jpegOrientation(data), nil
		}
	}
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, 0, badInput("decode %s image: %v", format, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, 0, badInput("%s image decoded to empty bounds %v", format, b)
	}
	if int64(b.Dx())*int64(b.Dy()) > maxPixels {
		return nil, 0, badInput("%s image decoded to %v, over the limit of %d pixels", format, b, maxPixels)
	}
	orient = 1
	if format == "jpeg" {
		orient = jpegOrientation(data)
	}
	return img, orient, nil
}

// jpegReduction returns n for a JPEG to be decoded at scale n/8 (1, 2 or
// 4): the smallest scale whose shorter side is still at least minSide. It
// returns 0 (decode in full) for other formats, when minSide is 0, or when
// even 1/2 would be smaller than minSide.
func jpegReduction(format string, cfg image.Config, minSide int) int {
	if format != "jpeg" || minSide <= 0 {
		return 0
	}
	side := min(cfg.Width, cfg.Height)
	for _, n := range []int{1, 2, 4} {
		if side >= (8/n)*minSide {
			return n
		}
	}
	return 0
}

type subImager interface {
	SubImage(r image.Rectangle) image.Image
}

// resize returns the Size×Size NRGBA image in stored (un-oriented)
// coordinates. A centred square crop and a stretch both commute with the
// EXIF rotations and flips, so orientation is applied afterwards, when the
// tensor is filled.
func (p *imagePlan) resize(img image.Image) (out *image.NRGBA, err error) {
	defer recoverBadInput("resize image", &err)
	if !p.stretch {
		b := img.Bounds()
		w, h := b.Dx(), b.Dy()
		if w != h {
			side := min(w, h)
			x0 := b.Min.X + (w-side)/2
			y0 := b.Min.Y + (h-side)/2
			r := image.Rect(x0, y0, x0+side, y0+side)
			if si, ok := img.(subImager); ok {
				img = si.SubImage(r)
			} else {
				img = imaging.Crop(img, r)
			}
		}
	}
	if p.filter.Support > 0 { // not nearest-neighbour
		img = preShrink(img, p.size)
	}
	ok := false
	if p.separable { // linear or box: the faster, equivalent resampler
		out, ok = resizeSeparable(img, p.size, p.size, p.filter)
	}
	if !ok {
		out = imaging.Resize(img, p.size, p.size, p.filter)
	}
	if out.Rect.Dx() != p.size || out.Rect.Dy() != p.size {
		return nil, badInput("resize produced %v, want %dx%d", out.Rect, p.size, p.size)
	}
	return out, nil
}

// fill writes the normalised CHW tensor, applying EXIF orientation by
// reading the square in the rotated / flipped order and compositing alpha
// over white.
func (p *imagePlan) fill(src *image.NRGBA, orient int, dst []float32) {
	s := p.size
	st := src.Stride
	pix := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y):]
	last := s - 1
	plane := s * s
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	lr, lg, lb := &p.lut[0], &p.lut[1], &p.lut[2]
	for dy := 0; dy < s; dy++ {
		var off, step int
		switch orient {
		default: // 1
			off, step = dy*st, 4
		case 2:
			off, step = dy*st+last*4, -4
		case 3:
			off, step = (last-dy)*st+last*4, -4
		case 4:
			off, step = (last-dy)*st, 4
		case 5:
			off, step = dy*4, st
		case 6:
			off, step = last*st+dy*4, -st
		case 7:
			off, step = last*st+(last-dy)*4, -st
		case 8:
			off, step = (last-dy)*4, st
		}
		row := dy * s
		for dx := 0; dx < s; dx++ {
			px := pix[off : off+4 : off+4]
			if a := px[3]; a == 255 {
				r[row+dx] = lr[px[0]]
				g[row+dx] = lg[px[1]]
				b[row+dx] = lb[px[2]]
			} else {
				af := float32(a) / 255
				white := 255 * (1 - af)
				r[row+dx] = (float32(px[0])*af+white)*p.k[0] + p.c[0]
				g[row+dx] = (float32(px[1])*af+white)*p.k[1] + p.c[1]
				b[row+dx] = (float32(px[2])*af+white)*p.k[2] + p.c[2]
			}
			off += step
		}
	}
}
