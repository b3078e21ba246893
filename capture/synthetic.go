package capture

import (
	"image"
	"strconv"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// syntheticFPS is the rate of the test pattern, a typical webcam's.
const syntheticFPS = 30

// The test pattern is drawn here rather than taken from mediadevices' videotest driver:
// videotest is one global device (two sources cannot run at once), it registers itself as a
// camera (Cameras would list it), its reader blocks forever when closed while waiting for
// its ticker, and its colour bars hardly move. Drawing our own frame costs well under a
// millisecond of CPU at 640x480.

// openSynthetic starts a test pattern source; fps <= 0 renders as fast as possible (for
// benchmarks).
func openSynthetic(opts Options, fps float32) Source {
	w, h := opts.size(640, 480)
	s := newStream(Info{Name: "Test pattern", Width: w, Height: h, FPS: max(fps, 0)})
	p := newPattern(w, h)
	s.run(func() {
		var tick <-chan time.Time
		if fps > 0 {
			t := time.NewTicker(time.Duration(float32(time.Second) / fps))
			defer t.Stop()
			tick = t.C
		}
		for n := 0; ; n++ {
			img := s.back(w, h)
			p.draw(img, n)
			s.publish(img, nil)
			if tick == nil {
				select {
				case <-s.stopping():
					return
				default:
				}
				continue
			}
			select {
			case <-s.stopping():
				return
			case <-tick:
			}
		}
	})
	return s
}

// pattern draws frames of the test pattern: a drifting colour gradient, a bouncing box and
// the frame number, so that a frozen or torn preview is obvious. Its buffers are reused,
// so drawing a frame allocates nothing.
type pattern struct {
	w, h  int
	red   []byte      // red channel of one row, recomputed per frame
	text  []byte      // frame label
	glyph *image.RGBA // label drawn at the font's size, then scaled up into the frame
	scale int
	face  *basicfont.Face
}

const labelChars = 16 // "frame " and up to 10 digits

func newPattern(w, h int) *pattern {
	face := basicfont.Face7x13
	return &pattern{
		w: w, h: h,
		red:   make([]byte, w),
		text:  make([]byte, 0, labelChars),
		glyph: image.NewRGBA(image.Rect(0, 0, face.Advance*labelChars, face.Height)),
		scale: max(1, h/160), // 3 at 480 lines: readable in a small preview
		face:  face,
	}
}

func (p *pattern) draw(img *image.RGBA, n int) {
	w, h := p.w, p.h
	// Gradient: red follows x, green follows y, both drifting with time; blue pulses.
	for x := range p.red {
		p.red[x] = byte(x*255/max(1, w-1) + 3*n)
	}
	blue := byte(tri(4*n, 255))
	for y := 0; y < h; y++ {
		green := byte(y*255/max(1, h-1) + 2*n)
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			px := row[4*x : 4*x+4 : 4*x+4]
			px[0], px[1], px[2], px[3] = p.red[x], green, blue, 0xff
		}
	}

	// Bouncing box: a white square with a black border.
	side := max(4, h/4)
	bx := tri(5*n, max(0, w-side))
	by := tri(3*n, max(0, h-side))
	fill(img, image.Rect(bx, by, bx+side, by+side), 0, 0, 0)
	border := max(1, side/16)
	fill(img, image.Rect(bx+border, by+border, bx+side-border, by+side-border), 255, 255, 255)

	// Frame number, on a dark plate in the top-left corner.
	p.text = strconv.AppendInt(append(p.text[:0], "frame "...), int64(n), 10)
	if len(p.text) > labelChars {
		p.text = p.text[:labelChars]
	}
	clear(p.glyph.Pix)
	d := font.Drawer{Dst: p.glyph, Src: image.White, Face: p.face, Dot: fixed.P(0, p.face.Ascent)}
	d.DrawBytes(p.text)
	gw, gh := p.face.Advance*len(p.text), p.face.Height
	s, m := p.scale, 2*p.scale
	fill(img, image.Rect(0, 0, gw*s+2*m, gh*s+2*m), 0, 0, 0)
	for gy := 0; gy < gh; gy++ {
		for gx := 0; gx < gw; gx++ {
			if p.glyph.Pix[gy*p.glyph.Stride+4*gx+3] >= 0x80 {
				fill(img, image.Rect(m+gx*s, m+gy*s, m+gx*s+s, m+gy*s+s), 255, 255, 255)
			}
		}
	}
}

// fill paints r (clipped to img) with an opaque colour.
func fill(img *image.RGBA, r image.Rectangle, red, green, blue byte) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		i := img.PixOffset(r.Min.X, y)
		row := img.Pix[i : i+4*r.Dx()]
		for x := 0; x < len(row); x += 4 {
			px := row[x : x+4 : x+4]
			px[0], px[1], px[2], px[3] = red, green, blue, 0xff
		}
	}
}

// tri is a triangle wave going 0..span..0 as v grows, for bouncing motion.
func tri(v, span int) int {
	if span <= 0 {
		return 0
	}
	v %= 2 * span
	if v > span {
		return 2*span - v
	}
	return v
}
