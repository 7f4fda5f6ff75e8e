package preprocess

import (
	"image"
	"image/color"
)

// preShrink reduces a large decoded image (JPEG's YCbCr or grey, PNG's
// RGBA or NRGBA) by an integer factor with a box filter, straight from its
// pixel buffers, so that the final
// resize starts from at least twice the output size. This is the "reducing
// gap" trick of common image libraries: the box average is an adequate
// anti-alias prefilter at such factors, and it avoids converting and
// filtering every full-resolution pixel in float. Other image types
// (paletted, 16-bit), and images less than four times the output size, are
// returned unchanged.
//
// The w mod k and h mod k leftover columns and rows are dropped, split
// evenly between both edges, so the geometry stays uniform; that trims less
// than half an output pixel from each side.
func preShrink(img image.Image, size int) image.Image {
	b := img.Bounds()
	k := min(b.Dx(), b.Dy()) / (2 * size)
	if k < 2 {
		return img
	}
	rx, ry := b.Dx()%k, b.Dy()%k
	inner := image.Rect(b.Min.X+rx/2, b.Min.Y+ry/2, b.Max.X-(rx-rx/2), b.Max.Y-(ry-ry/2))
	switch m := img.(type) {
	case *image.YCbCr:
		return shrinkYCbCr(m.SubImage(inner).(*image.YCbCr), k)
	case *image.Gray:
		return shrinkGray(m.SubImage(inner).(*image.Gray), k)
	case *image.NRGBA:
		sub := m.SubImage(inner).(*image.NRGBA)
		return shrinkRGBA(sub.Pix, sub.Stride, sub.Rect, k, false)
	case *image.RGBA:
		sub := m.SubImage(inner).(*image.RGBA)
		return shrinkRGBA(sub.Pix, sub.Stride, sub.Rect, k, true)
	}
	return img
}

// shrinkRGBA box-averages k×k blocks of 8-bit RGBA pixels (pix, stride and
// rect as in image.RGBA / image.NRGBA; rect's sides are multiples of k) into
// a non-premultiplied NRGBA image. Colours are averaged weighted by alpha,
// as a premultiplied resize does, so fully transparent pixels lend no
// colour to their neighbours; premul says whether pix already holds
// alpha-premultiplied colours (image.RGBA) or not (image.NRGBA).
func shrinkRGBA(pix []uint8, stride int, rect image.Rectangle, k int, premul bool) image.Image {
	w, h := rect.Dx()/k, rect.Dy()/k
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	// cols holds, per input column, the sums over the block's k rows of
	// colour·alpha for r, g, b (premultiplied colours already are
	// colour·alpha/255, so they count ×255) and of alpha: at most
	// k·255·255, well inside uint32 for any k an image can have here.
	cols := make([]uint32, 4*w*k)
	n := uint64(k * k)
	for by := 0; by < h; by++ {
		clear(cols)
		for y := by * k; y < (by+1)*k; y++ {
			row := pix[y*stride:][:len(cols)]
			for o := 0; o+3 < len(row); o += 4 {
				px := row[o : o+4 : o+4]
				c := cols[o : o+4 : o+4]
				a := uint32(px[3])
				wgt := a
				if premul {
					wgt = 255
				}
				c[0] += uint32(px[0]) * wgt
				c[1] += uint32(px[1]) * wgt
				c[2] += uint32(px[2]) * wgt
				c[3] += a
			}
		}
		dst := out.Pix[by*out.Stride:][:4*w]
		for bx := 0; bx < w; bx++ {
			var sr, sg, sb, sa uint64
			blk := cols[4*bx*k : 4*(bx+1)*k]
			for o := 0; o+3 < len(blk); o += 4 {
				sr += uint64(blk[o])
				sg += uint64(blk[o+1])
				sb += uint64(blk[o+2])
				sa += uint64(blk[o+3])
			}
			d := dst[4*bx : 4*bx+4 : 4*bx+4]
			if sa == 0 {
				d[0], d[1], d[2], d[3] = 0, 0, 0, 0
				continue
			}
			d[0] = uint8(min(255, (sr+sa/2)/sa))
			d[1] = uint8(min(255, (sg+sa/2)/sa))
			d[2] = uint8(min(255, (sb+sa/2)/sa))
			d[3] = uint8((sa + n/2) / n)
		}
	}
	return out
}

// shrinkGray box-averages k×k blocks; m's sides are multiples of k.
func shrinkGray(m *image.Gray, k int) image.Image {
	b := m.Bounds()
	w, h := b.Dx()/k, b.Dy()/k
	out := image.NewGray(image.Rect(0, 0, w, h))
	sum := make([]uint32, w)
	half := uint32(k*k) / 2
	for by := 0; by < h; by++ {
		clear(sum)
		for y := b.Min.Y + by*k; y < b.Min.Y+(by+1)*k; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:w*k]
			for bx := range sum {
				var s uint32
				for _, v := range row[bx*k : (bx+1)*k] {
					s += uint32(v)
				}
				sum[bx] += s
			}
		}
		dst := out.Pix[by*out.Stride:][:w]
		for i := range dst {
			dst[i] = uint8((sum[i] + half) / uint32(k*k))
		}
	}
	return out
}

// shrinkYCbCr box-averages k×k blocks of luma and the chroma each luma
// pixel reads, then converts to RGB; m's sides are multiples of k.
func shrinkYCbCr(m *image.YCbCr, k int) image.Image {
	hs, vs, ok := chromaShifts(m.SubsampleRatio)
	if !ok {
		return m
	}
	b := m.Bounds()
	w, h := b.Dx()/k, b.Dy()/k
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	ys, cbs, crs := make([]uint32, w), make([]uint32, w), make([]uint32, w)
	n := uint32(k * k)
	for by := 0; by < h; by++ {
		clear(ys)
		clear(cbs)
		clear(crs)
		for y := b.Min.Y + by*k; y < b.Min.Y+(by+1)*k; y++ {
			row := m.Y[m.YOffset(b.Min.X, y):][:w*k]
			// image.YCbCr.COffset with the row part hoisted.
			cOff := (y>>vs-m.Rect.Min.Y>>vs)*m.CStride - m.Rect.Min.X>>hs
			x := b.Min.X
			for bx := 0; bx < w; bx++ {
				var sy, sb, sr uint32
				for _, v := range row[bx*k : (bx+1)*k] {
					ci := cOff + x>>hs
					sy += uint32(v)
					sb += uint32(m.Cb[ci])
					sr += uint32(m.Cr[ci])
					x++
				}
				ys[bx] += sy
				cbs[bx] += sb
				crs[bx] += sr
			}
		}
		dst := out.Pix[by*out.Stride:][:4*w]
		for i := 0; i < w; i++ {
			r, g, bl := color.YCbCrToRGB(uint8((ys[i]+n/2)/n), uint8((cbs[i]+n/2)/n), uint8((crs[i]+n/2)/n))
			d := dst[4*i : 4*i+4 : 4*i+4]
			d[0], d[1], d[2], d[3] = r, g, bl, 255
		}
	}
	return out
}
