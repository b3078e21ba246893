package ondevice

import (
	"errors"
	"image"
	"image/color"
)

// resizer turns a decoded image into the model's input: size×size float32
// RGB in 0..255, as three planes (NCHW), with transparent pixels composited
// onto white and resampled bilinearly with TensorFlow's resize_bilinear
// mapping (align_corners=false, half_pixel_centers=false).
//
// Unlike @vladmandic/human, which stretches every photo onto the square,
// the resizer keeps the aspect ratio and centres the photo on black
// ("letterbox"). Measured on the shared photos with this model, stretching
// calls chelsea.png's cat a dog (dog 0.48, cat 0.20) while the letterbox gets
// it right (cat 0.51), and lifts coffee.png's cup from 0.46 to 0.60 and
// horse.png's horse from 0.54 to 0.61; black padding scored best of black,
// grey and white.
//
// It never calls image.Image.At on the types the decoders produce (RGBA,
// NRGBA, YCbCr, Gray, Paletted and their 16-bit forms): a per-pixel interface
// call costs more than the arithmetic, and the project's goal is that
// labelling costs at
// most 1.2× the bare model run. Only the source pixels that the 2×2 taps
// touch are read, so the cost depends on the output size, not the photo's.
//
// A resizer keeps its scratch rows between calls and is not safe for
// concurrent use; the labeller serialises calls under its mutex.
type resizer struct {
	size int
	// content is where the photo lands inside the square; the rest is
	// padding. Boxes are mapped back through it.
	content    image.Rectangle
	xs, ys     []tap // the taps of content's columns and rows
	xsAll      []tap
	ysAll      []tap
	rows       [2][]float32    // horizontally resampled source rows, 3 planes each
	rowY       [2]int          // which source row each holds; -1 for none
	chromaCols [2][]int        // *image.YCbCr: chroma offsets of each column's taps
	palette    [256][3]float32 // *image.Paletted: each entry composited onto white
}

// tap is where an output coordinate samples the source: the two neighbouring
// source indexes (relative to the image bounds) and the weight of the second.
type tap struct {
	i0, i1 int
	f      float32
}

func newResizer(size int) *resizer {
	r := &resizer{size: size, xsAll: make([]tap, size), ysAll: make([]tap, size)}
	for i := range r.rows {
		r.rows[i] = make([]float32, 3*size)
		r.chromaCols[i] = make([]int, size)
	}
	return r
}

// setTaps fills dst for scaling in source pixels onto len(dst), using TF's
// source = dst*in/out with the upper neighbour clamped to the edge.
func setTaps(dst []tap, in int) {
	scale := float32(in) / float32(len(dst))
	for i := range dst {
		s := float32(i) * scale
		i0 := min(int(s), in-1)
		dst[i] = tap{i0: i0, i1: min(i0+1, in-1), f: s - float32(i0)}
	}
}

var errEmptyImage = errors.New("the image has no pixels")

// resize writes img into dst (3*size*size floats, planes R, G, B).
func (r *resizer) resize(img image.Image, dst []float32) error {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return errEmptyImage
	}
	r.content = letterbox(b.Dx(), b.Dy(), r.size)
	r.xs = r.xsAll[:r.content.Dx()]
	r.ys = r.ysAll[:r.content.Dy()]
	setTaps(r.xs, b.Dx())
	setTaps(r.ys, b.Dy())
	r.rowY = [2]int{-1, -1}
	r.clearPadding(dst)

	var row func(sy int, out []float32)
	switch m := img.(type) {
	case *image.NRGBA:
		row = func(sy int, out []float32) { r.rowNRGBA(m.Pix[sy*m.Stride:], out) }
	case *image.RGBA:
		row = func(sy int, out []float32) { r.rowRGBA(m.Pix[sy*m.Stride:], out) }
	case *image.Gray:
		row = func(sy int, out []float32) { r.rowGray(m.Pix[sy*m.Stride:], out) }
	case *image.Paletted: // GIFs and palette PNGs
		r.setPalette(m.Palette)
		row = func(sy int, out []float32) { r.rowPaletted(m.Pix[sy*m.Stride:], out) }
	case *image.NRGBA64: // 16-bit PNGs: the high byte is enough for the model
		row = func(sy int, out []float32) { r.rowNRGBA64(m.Pix[sy*m.Stride:], out) }
	case *image.RGBA64:
		row = func(sy int, out []float32) { r.rowRGBA64(m.Pix[sy*m.Stride:], out) }
	case *image.YCbCr:
		// Chroma offsets separate into a row part and a column part for
		// every subsampling ratio: COffset(x, y) = COffset(minX, y) +
		// COffset(x, minY), since COffset(minX, minY) is 0.
		for i, t := range r.xs {
			r.chromaCols[0][i] = m.COffset(b.Min.X+t.i0, b.Min.Y)
			r.chromaCols[1][i] = m.COffset(b.Min.X+t.i1, b.Min.Y)
		}
		row = func(sy int, out []float32) {
			r.rowYCbCr(m, m.Y[sy*m.YStride:], m.COffset(b.Min.X, b.Min.Y+sy), out)
		}
	default:
		row = func(sy int, out []float32) { r.rowAny(img, b, sy, out) }
	}

	n := r.size
	x0, y0, cw := r.content.Min.X, r.content.Min.Y, r.content.Dx()
	for y, t := range r.ys {
		top := r.sourceRow(t.i0, row)
		var bot []float32
		if t.f != 0 && t.i1 != t.i0 {
			bot = r.sourceRow(t.i1, row)
		}
		for c := range 3 {
			o := c*n*n + (y0+y)*n + x0
			out := dst[o : o+cw]
			tp := top[c*n : c*n+cw]
			if bot == nil {
				copy(out, tp)
				continue
			}
			bt := bot[c*n : c*n+cw]
			f := t.f
			for x := range out {
				out[x] = tp[x] + (bt[x]-tp[x])*f
			}
		}
	}
	return nil
}

// letterbox is where a w×h photo goes inside a size×size square: as large
// as fits with its aspect ratio kept, centred.
func letterbox(w, h, size int) image.Rectangle {
	cw, ch := size, size
	if w >= h {
		ch = max(1, min(size, int(float64(size)*float64(h)/float64(w)+0.5)))
	} else {
		cw = max(1, min(size, int(float64(size)*float64(w)/float64(h)+0.5)))
	}
	x, y := (size-cw)/2, (size-ch)/2
	return image.Rect(x, y, x+cw, y+ch)
}

// clearPadding zeroes (black) the part of dst outside the content.
func (r *resizer) clearPadding(dst []float32) {
	n, c := r.size, r.content
	for p := range 3 {
		plane := dst[p*n*n : (p+1)*n*n]
		clear(plane[:c.Min.Y*n])
		clear(plane[c.Max.Y*n:])
		for y := c.Min.Y; y < c.Max.Y; y++ {
			clear(plane[y*n : y*n+c.Min.X])
			clear(plane[y*n+c.Max.X : (y+1)*n])
		}
	}
}

// sourceRow returns source row sy resampled horizontally, computing it only
// if neither scratch row already holds it (upscaling reuses rows).
func (r *resizer) sourceRow(sy int, fill func(int, []float32)) []float32 {
	for i := range r.rows {
		if r.rowY[i] == sy {
			return r.rows[i]
		}
	}
	// Evict the slot that does not hold the row just before sy: that one is
	// usually the other tap of the same output row.
	slot := 0
	if r.rowY[0] == sy-1 {
		slot = 1
	}
	fill(sy, r.rows[slot])
	r.rowY[slot] = sy
	return r.rows[slot]
}

func (r *resizer) planes(out []float32) (rr, gg, bb []float32) {
	n := r.size
	return out[:n], out[n : 2*n], out[2*n : 3*n]
}

// rowNRGBA samples non-premultiplied RGBA, compositing onto white:
// c*a/255 + (255-a).
func (r *resizer) rowNRGBA(p []byte, out []float32) {
	R, G, B := r.planes(out)
	for x, t := range r.xs {
		q0, q1 := p[4*t.i0:4*t.i0+4], p[4*t.i1:4*t.i1+4]
		r0, g0, b0 := nrgbaOnWhite(q0[0], q0[1], q0[2], q0[3])
		r1, g1, b1 := nrgbaOnWhite(q1[0], q1[1], q1[2], q1[3])
		R[x] = r0 + (r1-r0)*t.f
		G[x] = g0 + (g1-g0)*t.f
		B[x] = b0 + (b1-b0)*t.f
	}
}

func nrgbaOnWhite(r, g, b, a uint8) (float32, float32, float32) {
	if a == 0xff {
		return float32(r), float32(g), float32(b)
	}
	fa := float32(a) * (1.0 / 255)
	bg := float32(255 - a)
	return float32(r)*fa + bg, float32(g)*fa + bg, float32(b)*fa + bg
}

// rowRGBA samples premultiplied RGBA, compositing onto white: c + (255-a).
func (r *resizer) rowRGBA(p []byte, out []float32) {
	R, G, B := r.planes(out)
	for x, t := range r.xs {
		q0, q1 := p[4*t.i0:4*t.i0+4], p[4*t.i1:4*t.i1+4]
		bg0, bg1 := float32(255-q0[3]), float32(255-q1[3])
		r0, g0, b0 := float32(q0[0])+bg0, float32(q0[1])+bg0, float32(q0[2])+bg0
		r1, g1, b1 := float32(q1[0])+bg1, float32(q1[1])+bg1, float32(q1[2])+bg1
		R[x] = r0 + (r1-r0)*t.f
		G[x] = g0 + (g1-g0)*t.f
		B[x] = b0 + (b1-b0)*t.f
	}
}

func (r *resizer) setPalette(p color.Palette) {
	for i := range r.palette {
		if i >= len(p) {
			// Out-of-range indexes are black, as image.Paletted.At says.
			r.palette[i] = [3]float32{}
			continue
		}
		r.palette[i] = anyColorOnWhite(p[i])
	}
}

func (r *resizer) rowPaletted(p []byte, out []float32) {
	R, G, B := r.planes(out)
	for x, t := range r.xs {
		c0, c1 := &r.palette[p[t.i0]], &r.palette[p[t.i1]]
		R[x] = c0[0] + (c1[0]-c0[0])*t.f
		G[x] = c0[1] + (c1[1]-c0[1])*t.f
		B[x] = c0[2] + (c1[2]-c0[2])*t.f
	}
}

// rowNRGBA64 reads the high bytes of 16-bit non-premultiplied RGBA.
func (r *resizer) rowNRGBA64(p []byte, out []float32) {
	R, G, B := r.planes(out)
	for x, t := range r.xs {
		q0, q1 := p[8*t.i0:8*t.i0+8], p[8*t.i1:8*t.i1+8]
		r0, g0, b0 := nrgbaOnWhite(q0[0], q0[2], q0[4], q0[6])
		r1, g1, b1 := nrgbaOnWhite(q1[0], q1[2], q1[4], q1[6])
		R[x] = r0 + (r1-r0)*t.f
		G[x] = g0 + (g1-g0)*t.f
		B[x] = b0 + (b1-b0)*t.f
	}
}

// rowRGBA64 reads the high bytes of 16-bit premultiplied RGBA.
func (r *resizer) rowRGBA64(p []byte, out []float32) {
	R, G, B := r.planes(out)
	for x, t := range r.xs {
		q0, q1 := p[8*t.i0:8*t.i0+8], p[8*t.i1:8*t.i1+8]
		bg0, bg1 := float32(255-q0[6]), float32(255-q1[6])
		r0, g0, b0 := float32(q0[0])+bg0, float32(q0[2])+bg0, float32(q0[4])+bg0
		r1, g1, b1 := float32(q1[0])+bg1, float32(q1[2])+bg1, float32(q1[4])+bg1
		R[x] = r0 + (r1-r0)*t.f
		G[x] = g0 + (g1-g0)*t.f
		B[x] = b0 + (b1-b0)*t.f
	}
}

func (r *resizer) rowGray(p []byte, out []float32) {
	R, G, B := r.planes(out)
	for x, t := range r.xs {
		v0, v1 := float32(p[t.i0]), float32(p[t.i1])
		v := v0 + (v1-v0)*t.f
		R[x], G[x], B[x] = v, v, v
	}
}

// rowYCbCr converts each sampled pixel to RGB (JFIF, as image/color does)
// before interpolating, so that it gives what decoding to RGB first and then
// resizing would: chroma subsampling leaves pixels out of gamut that must be
// clamped one by one.
func (r *resizer) rowYCbCr(m *image.YCbCr, yRow []byte, cRow int, out []float32) {
	R, G, B := r.planes(out)
	c0, c1 := r.chromaCols[0], r.chromaCols[1]
	for x, t := range r.xs {
		i0, i1 := cRow+c0[x], cRow+c1[x]
		r0, g0, b0 := yccToRGB(yRow[t.i0], m.Cb[i0], m.Cr[i0])
		r1, g1, b1 := yccToRGB(yRow[t.i1], m.Cb[i1], m.Cr[i1])
		R[x] = r0 + (r1-r0)*t.f
		G[x] = g0 + (g1-g0)*t.f
		B[x] = b0 + (b1-b0)*t.f
	}
}

func yccToRGB(y, cb, cr uint8) (r, g, b float32) {
	yy, fb, fr := float32(y), float32(cb)-128, float32(cr)-128
	return clamp255(yy + 1.402*fr), clamp255(yy - 0.344136*fb - 0.714136*fr),
		clamp255(yy + 1.772*fb)
}

func clamp255(v float32) float32 { return min(max(v, 0), 255) }

// rowAny is the slow path for the rarer types (paletted, 16-bit, CMYK):
// still only the sampled pixels are read, through At.
func (r *resizer) rowAny(img image.Image, b image.Rectangle, sy int, out []float32) {
	R, G, B := r.planes(out)
	y := b.Min.Y + sy
	for x, t := range r.xs {
		r0, g0, b0 := anyOnWhite(img, b.Min.X+t.i0, y)
		r1, g1, b1 := anyOnWhite(img, b.Min.X+t.i1, y)
		R[x] = r0 + (r1-r0)*t.f
		G[x] = g0 + (g1-g0)*t.f
		B[x] = b0 + (b1-b0)*t.f
	}
}

func anyOnWhite(img image.Image, x, y int) (r, g, b float32) {
	c := anyColorOnWhite(img.At(x, y))
	return c[0], c[1], c[2]
}

func anyColorOnWhite(c color.Color) [3]float32 {
	cr, cg, cb, ca := c.RGBA() // premultiplied, 16 bits
	bg := 0xffff - ca
	const s = 1.0 / 257
	return [3]float32{float32(cr+bg) * s, float32(cg+bg) * s, float32(cb+bg) * s}
}
