package capture

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// cgoEnabled is false in builds without cgo, where mediadevices registers no camera.
var cgoEnabled = true

// Pixel formats the camera source reads. Other formats (NV12, I420, Z16, ...) exist but
// cameras that matter offer one of these, and each extra format is one more path to test.
const (
	pixelMJPEG = "MJPEG"
	pixelYUYV  = "YUYV"
	pixelYUY2  = "YUY2" // Windows' name for YUYV
)

// minLiveFPS is the rate below which a mode makes a jerky preview; such modes are chosen
// only when the camera offers nothing faster.
const minLiveFPS = 15

// chooseFormat picks the capture mode closest to the wanted size among those the camera
// source reads.
//
// The order of preference is: a live frame rate first (YUYV at 720p and above often runs
// at 5–10 fps over USB 2, where MJPEG gives 30), then the size closest to the wanted one,
// then the pixel format: MJPEG at 720p and above, YUYV below (uncompressed is sharper and
// cheaper to decode when the bus can carry it), then the rate closest to 30 fps.
func chooseFormat(offered []Format, wantW, wantH int) (Format, error) {
	var usable []Format
	for _, f := range offered {
		if isReadable(f.Pixel) && f.Width > 0 && f.Height > 0 {
			usable = append(usable, f)
		}
	}
	if len(usable) == 0 {
		return Format{}, fmt.Errorf("it offers no picture format this app can read "+
			"(MJPEG or YUYV), only %s", describeFormats(offered))
	}
	slow := func(f Format) bool { return f.FPS > 0 && f.FPS < minLiveFPS }
	dist := func(f Format) float64 {
		return math.Abs(math.Log(float64(f.Width)/float64(wantW))) +
			math.Abs(math.Log(float64(f.Height)/float64(wantH)))
	}
	pixelRank := func(f Format) int {
		if (f.Height >= 720) == (f.Pixel == pixelMJPEG) {
			return 0
		}
		return 1
	}
	rateGap := func(f Format) float64 {
		if f.FPS <= 0 {
			return 0
		}
		return math.Abs(float64(f.FPS) - 30)
	}
	best := slices.MinFunc(usable, func(a, b Format) int {
		if sa, sb := slow(a), slow(b); sa != sb {
			if sa {
				return 1
			}
			return -1
		}
		return cmp.Or(
			cmp.Compare(dist(a), dist(b)),
			cmp.Compare(pixelRank(a), pixelRank(b)),
			cmp.Compare(rateGap(a), rateGap(b)),
		)
	})
	return best, nil
}

func isReadable(pixel string) bool {
	return pixel == pixelMJPEG || pixel == pixelYUYV || pixel == pixelYUY2
}

// describeFormats lists formats for an error message, collapsing frame rates of one size
// and pixel format so that a camera with many modes still gives a readable line.
func describeFormats(fs []Format) string {
	if len(fs) == 0 {
		return "nothing"
	}
	type key struct {
		w, h  int
		pixel string
	}
	var keys []key
	rates := map[key][]string{}
	for _, f := range fs {
		k := key{f.Width, f.Height, f.Pixel}
		if _, ok := rates[k]; !ok {
			keys = append(keys, k)
			rates[k] = nil
		}
		if f.FPS > 0 {
			rates[k] = append(rates[k], fmt.Sprintf("%g", f.FPS))
		}
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		s := fmt.Sprintf("%dx%d %s", k.w, k.h, k.pixel)
		if r := rates[k]; len(r) > 0 {
			s += " at " + strings.Join(r, "/") + " fps"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// sortFormats orders a device's formats for display: readable formats first, largest
// first, fastest first.
func sortFormats(fs []Format) {
	slices.SortStableFunc(fs, func(a, b Format) int {
		ra, rb := isReadable(a.Pixel), isReadable(b.Pixel)
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Or(
			cmp.Compare(b.Width*b.Height, a.Width*a.Height),
			cmp.Compare(a.Pixel, b.Pixel),
			cmp.Compare(b.FPS, a.FPS),
		)
	})
}
