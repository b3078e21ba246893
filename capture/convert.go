package capture

import (
	"image"

	"golang.org/x/image/draw"
)

// toRGBA draws src into dst, which must have src's size. Camera frames arrive as
// *image.YCbCr (MJPEG and YUYV decode to it), which takes the plane loop below; other image
// types go through draw.Draw, whose fast paths cover the rest of the decoders' outputs.
func toRGBA(dst *image.RGBA, src image.Image) {
	if y, ok := src.(*image.YCbCr); ok && ycbcrToRGBA(dst, y) {
		return
	}
	if s, ok := src.(*image.RGBA); ok {
		copyRGBA(dst, s)
		return
	}
	draw.Draw(dst, dst.Rect, src, src.Bounds().Min, draw.Src)
}

// ycbcrToRGBA converts 4:2:2 and 4:2:0 images, the subsamplings cameras deliver, and reports
// false for anything else. The arithmetic is color.YCbCrToRGB's, so results match
// draw.Draw bit for bit, but each chroma sample is unpacked once for its two pixels, the
// row slices let the compiler drop most bounds checks, and clamping does not branch.
func ycbcrToRGBA(dst *image.RGBA, src *image.YCbCr) bool {
	r := src.Rect
	w, h := r.Dx(), r.Dy()
	var vshift int
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
	case image.YCbCrSubsampleRatio420:
		vshift = 1
	default:
		return false
	}
	// An odd or negative left edge would pair pixels across chroma samples differently from
	// image.YCbCr's offsets; cameras deliver frames at the origin.
	if r.Min.X&1 != 0 || r.Min.X < 0 || r.Min.Y < 0 || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		return false
	}
	cw := (w + 1) / 2
	for y := 0; y < h; y++ {
		sy := r.Min.Y + y
		yi := y * src.YStride
		ci := (sy>>vshift - r.Min.Y>>vshift) * src.CStride // as image.YCbCr.COffset
		yrow := src.Y[yi : yi+w]
		cbrow := src.Cb[ci : ci+cw]
		crrow := src.Cr[ci : ci+cw]
		drow := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		x := 0
		for ; x+1 < w; x += 2 {
			cb := int32(cbrow[x/2]) - 128
			cr := int32(crrow[x/2]) - 128
			rc, gc, bc := 91881*cr, -22554*cb-46802*cr, 116130*cb
			d := drow[4*x : 4*x+8 : 4*x+8]
			yy := int32(yrow[x]) * 0x10101
			d[0], d[1], d[2], d[3] = clamp16(yy+rc), clamp16(yy+gc), clamp16(yy+bc), 0xff
			yy = int32(yrow[x+1]) * 0x10101
			d[4], d[5], d[6], d[7] = clamp16(yy+rc), clamp16(yy+gc), clamp16(yy+bc), 0xff
		}
		if x < w { // odd width: the last pixel has a chroma sample of its own
			cb := int32(cbrow[x/2]) - 128
			cr := int32(crrow[x/2]) - 128
			d := drow[4*x : 4*x+4 : 4*x+4]
			yy := int32(yrow[x]) * 0x10101
			d[0] = clamp16(yy + 91881*cr)
			d[1] = clamp16(yy - 22554*cb - 46802*cr)
			d[2] = clamp16(yy + 116130*cb)
			d[3] = 0xff
		}
	}
	return true
}

// clamp16 turns a 16.16 fixed-point value into a byte, saturating at 0 and 255. min/max
// compile to conditional moves, so the cost does not depend on the picture. Measured here
// (CPU time per 640x480 frame, BenchmarkYCbCrToRGBA640x480): about 1.1 ms for a photo and
// for noise alike, where draw.Draw, which branches like color.YCbCrToRGB, takes 0.9-1.0 ms
// on the photo but 3.3-3.6 ms on noise (a grainy low-light webcam picture) as its branches
// mispredict.
func clamp16(v int32) uint8 {
	return uint8(min(max(v>>16, 0), 255))
}
