package capture

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// randomYCbCr returns an image with random planes, so that every clamping branch is hit.
func randomYCbCr(r image.Rectangle, ratio image.YCbCrSubsampleRatio, seed uint64) *image.YCbCr {
	img := image.NewYCbCr(r, ratio)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
	}
	return img
}

// photoYCbCr returns a real photo at 640x480 in the given subsampling, the kind of smooth
// picture a camera mostly delivers.
func photoYCbCr(tb testing.TB, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	tb.Helper()
	p, err := loadPhoto(photosDir + "/astronaut.png")
	if err != nil {
		tb.Fatal(err)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.BiLinear.Scale(rgba, rgba.Rect, p.img, p.img.Bounds(), draw.Src, nil)
	img := image.NewYCbCr(rgba.Rect, ratio)
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			c := rgba.RGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			img.Y[img.YOffset(x, y)] = yy
			img.Cb[img.COffset(x, y)] = cb // last pixel of each chroma block wins: fine here
			img.Cr[img.COffset(x, y)] = cr
		}
	}
	return img
}

func TestYCbCrToRGBAMatchesDraw(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440,
	}
	rects := []image.Rectangle{
		image.Rect(0, 0, 640, 480),
		image.Rect(0, 0, 33, 17),   // odd sizes: a last pixel without a chroma partner
		image.Rect(4, 3, 21, 12),   // not at the origin, odd top edge
		image.Rect(5, 2, 20, 9),    // odd left edge: falls back to draw.Draw
		image.Rect(-4, -2, 10, 10), // negative origin: falls back to draw.Draw
	}
	for i, ratio := range ratios {
		for j, r := range rects {
			src := randomYCbCr(r, ratio, uint64(10*i+j))
			want := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
			draw.Draw(want, want.Rect, src, r.Min, draw.Src)
			got := image.NewRGBA(want.Rect)
			toRGBA(got, src)
			if string(got.Pix) != string(want.Pix) {
				t.Errorf("ratio %v rect %v: pixels differ from draw.Draw", ratio, r)
			}
		}
	}
}

func TestCopyRGBAReusesMatchingDst(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range src.Pix {
		src.Pix[i] = byte(i)
	}
	dst := image.NewRGBA(image.Rect(0, 0, 4, 3))
	if got := copyRGBA(dst, src); got != dst || string(got.Pix) != string(src.Pix) {
		t.Fatal("matching dst not reused or not copied")
	}
	// A sub-image of the right size is reused and only its window written.
	big := image.NewRGBA(image.Rect(0, 0, 10, 10))
	sub := big.SubImage(image.Rect(2, 2, 6, 5)).(*image.RGBA)
	if got := copyRGBA(sub, src); got != sub || got.RGBAAt(5, 4) != src.RGBAAt(3, 2) {
		t.Fatal("sub-image dst not reused or copied wrongly")
	}
	if big.RGBAAt(6, 2) != (color.RGBA{}) {
		t.Fatal("copy wrote outside the sub-image")
	}
	if got := copyRGBA(image.NewRGBA(image.Rect(0, 0, 2, 2)), src); got.Rect != src.Rect {
		t.Fatalf("wrong-sized dst gave %v", got.Rect)
	}
}

// BenchmarkYCbCrToRGBA640x480 compares the plane loop used for camera frames with
// draw.Draw's own YCbCr fast path, on the two subsamplings cameras deliver, for a smooth
// photo and for noise (a grainy low-light picture).
func BenchmarkYCbCrToRGBA640x480(b *testing.B) {
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
	} {
		inputs := []struct {
			name string
			img  *image.YCbCr
		}{
			{"photo", photoYCbCr(b, ratio)},
			{"noise", randomYCbCr(image.Rect(0, 0, 640, 480), ratio, 1)},
		}
		for _, in := range inputs {
			dst := image.NewRGBA(in.img.Rect)
			name := ratio.String()[len("YCbCrSubsampleRatio"):] + "/" + in.name
			b.Run(name+"/planes", func(b *testing.B) {
				b.SetBytes(int64(len(dst.Pix)))
				b.ReportAllocs()
				for b.Loop() {
					toRGBA(dst, in.img)
				}
			})
			b.Run(name+"/draw", func(b *testing.B) {
				b.SetBytes(int64(len(dst.Pix)))
				b.ReportAllocs()
				for b.Loop() {
					draw.Draw(dst, dst.Rect, in.img, image.Point{}, draw.Src)
				}
			})
		}
	}
}
