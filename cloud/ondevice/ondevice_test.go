package ondevice

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/roletest"
)

// openForTest opens the labeller on the real model, or skips when the assets
// have not been made (CI runs `make assets` first, so there it fails instead).
func openForTest(tb testing.TB, opts Options) *Labeller {
	tb.Helper()
	if FindModelDir() == "" && opts.ModelDir == "" {
		if os.Getenv("CI") != "" {
			// CI runs `make assets` first: missing files there are a bug in
			// the build, not a reason to pass without testing.
			tb.Fatalf("model assets not found although CI is set; did `make assets` run?")
		}
		tb.Skipf("model assets not found (%s in $MULTICLOUD_MODELS or assets/models); "+
			"run `make assets` to test the on-device labeller", ModelFile)
	}
	l, err := Open(opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

func TestConformance(t *testing.T) {
	roletest.RunLabeller(t, openForTest(t, Options{}))
}

func names(labels []cloud.Label) []string {
	var out []string
	for _, l := range labels {
		out = append(out, l.Name)
	}
	return out
}

// TestPhotos checks the expected labels and their boxes on every shared photo
// that has one, and logs what was found for the record.
func TestPhotos(t *testing.T) {
	l := openForTest(t, Options{})
	ctx := context.Background()
	for file, want := range roletest.LabellerExpectations {
		labels, err := l.Label(ctx, roletest.LoadPhoto(t, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		t.Logf("%s: %s", file, describe(labels))
		found := false
		for _, lb := range labels {
			if lb.Box == nil {
				t.Errorf("%s: label %q has no box", file, lb.Name)
				continue
			}
			b := *lb.Box
			if b.X < 0 || b.Y < 0 || b.W <= 0 || b.H <= 0 || b.X+b.W > 1 || b.Y+b.H > 1 {
				t.Errorf("%s: box of %q outside 0..1: %+v", file, lb.Name, b)
			}
			found = found || lb.Name == want
		}
		if !found {
			t.Errorf("%s: labels %v, want %q among them", file, names(labels), want)
		}
	}
}

func describe(labels []cloud.Label) string {
	var parts []string
	for _, lb := range labels {
		s := fmt.Sprintf("%s %.2f", lb.Name, lb.Score)
		if b := lb.Box; b != nil {
			s += fmt.Sprintf(" [%.2f %.2f %.2f %.2f]", b.X, b.Y, b.W, b.H)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// TestHorseNeedsWhite shows why transparent pixels are composited onto
// white: horse.png is a black silhouette on transparent black, so without it
// the model sees an all-black square.
func TestHorseNeedsWhite(t *testing.T) {
	p := roletest.LoadPhoto(t, "horse.png")
	if _, ok := p.Image.(*image.NRGBA); !ok {
		t.Logf("horse.png decodes as %T", p.Image)
	}
	r := newResizer(inputSize)
	buf := make([]float32, 3*inputSize*inputSize)
	if err := r.resize(p.Image, buf); err != nil {
		t.Fatal(err)
	}
	// The photo's top-left corner is transparent: it must become white.
	const n = inputSize * inputSize
	i := r.content.Min.Y*inputSize + r.content.Min.X
	if buf[i] != 255 || buf[n+i] != 255 || buf[2*n+i] != 255 {
		t.Errorf("transparent corner became (%v, %v, %v), want white",
			buf[i], buf[n+i], buf[2*n+i])
	}
	// And the horse itself stays dark (counting inside the photo only, not
	// the black padding around it).
	var dark, all int
	c := r.content
	for y := c.Min.Y; y < c.Max.Y; y++ {
		for _, v := range buf[y*inputSize+c.Min.X : y*inputSize+c.Max.X] {
			all++
			if v < 64 {
				dark++
			}
		}
	}
	if dark < all/10 {
		t.Errorf("only %d of %d pixels are dark; the silhouette was lost", dark, all)
	}
}

func TestBlankAndCancelled(t *testing.T) {
	l := openForTest(t, Options{})
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	labels, err := l.Label(context.Background(), &cloud.Photo{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 0 {
		t.Errorf("blank white image labelled %v", describe(labels))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.Label(ctx, roletest.LoadPhoto(t, "coffee.png"))
	if err == nil {
		t.Fatal("Label with a cancelled context succeeded")
	}
	if cloud.CodeOf(err) != cloud.Unavailable {
		t.Errorf("cancelled: code %v, want %v (%v)", cloud.CodeOf(err), cloud.Unavailable, err)
	}

	if _, err := l.Label(context.Background(), &cloud.Photo{}); cloud.CodeOf(err) !=
		cloud.InvalidArgument {
		t.Errorf("photo without image: %v, want InvalidArgument", err)
	}
	empty := &cloud.Photo{Image: image.NewRGBA(image.Rect(0, 0, 0, 0))}
	if _, err := l.Label(context.Background(), empty); cloud.CodeOf(err) !=
		cloud.InvalidArgument {
		t.Errorf("empty image: %v, want InvalidArgument", err)
	}
}

// TestImageTypes runs the same picture through every preprocessing path and
// expects the same input tensor within rounding.
func TestImageTypes(t *testing.T) {
	p := roletest.LoadPhoto(t, "coffee.png")
	b := p.Image.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, p.Image, b.Min, draw.Src)
	nrgba := image.NewNRGBA(b)
	draw.Draw(nrgba, b, p.Image, b.Min, draw.Src)
	rgba64 := image.NewRGBA64(b) // goes through the generic At path
	draw.Draw(rgba64, b, p.Image, b.Min, draw.Src)

	want := make([]float32, 3*inputSize*inputSize)
	r := newResizer(inputSize)
	if err := r.resize(rgba, want); err != nil {
		t.Fatal(err)
	}
	for _, img := range []image.Image{nrgba, rgba64} {
		got := make([]float32, len(want))
		if err := r.resize(img, got); err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(want, got); d > 0.01 {
			t.Errorf("%T differs from *image.RGBA by up to %v", img, d)
		}
	}

	// A sub-image (bounds not at the origin, stride wider than the row)
	// must read the same pixels as a copy of that region.
	rect := image.Rect(10, 20, 300, 200)
	sub := nrgba.SubImage(rect)
	cp := image.NewNRGBA(image.Rect(0, 0, rect.Dx(), rect.Dy()))
	draw.Draw(cp, cp.Bounds(), sub, rect.Min, draw.Src)
	got, exp := make([]float32, len(want)), make([]float32, len(want))
	if err := r.resize(sub, got); err != nil {
		t.Fatal(err)
	}
	if err := r.resize(cp, exp); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(exp, got); d != 0 {
		t.Errorf("sub-image differs from its copy by up to %v", d)
	}

	// YCbCr, Gray and Paletted lose colour information, and 16-bit images
	// gain some, so compare each with its own generic-path rendering.
	pal := image.NewPaletted(b, palette.Plan9)
	draw.Draw(pal, b, p.Image, b.Min, draw.Src)
	translucent := image.NewNRGBA64(b)
	draw.Draw(translucent, b, p.Image, b.Min, draw.Src)
	for i := 0; i < len(translucent.Pix); i += 8 {
		translucent.Pix[i+6] = uint8(i / 8 % 256) // vary alpha, high byte
	}
	premul := image.NewRGBA64(b)
	draw.Draw(premul, b, translucent, b.Min, draw.Src)
	for _, img := range []image.Image{ycbcr(rgba, image.YCbCrSubsampleRatio420),
		ycbcr(rgba, image.YCbCrSubsampleRatio444), gray(rgba), pal, translucent, premul} {
		fast := make([]float32, len(want))
		slow := make([]float32, len(want))
		if err := r.resize(img, fast); err != nil {
			t.Fatal(err)
		}
		if err := r.resize(opaque{img}, slow); err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(fast, slow); d > 1.5 {
			t.Errorf("%T fast path differs from the generic path by up to %v", img, d)
		}
	}
}

// opaque hides an image's concrete type to force the generic path.
type opaque struct{ image.Image }

func ycbcr(src *image.RGBA, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	b := src.Bounds()
	m := image.NewYCbCr(b, ratio)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := src.RGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			m.Y[m.YOffset(x, y)] = yy
			m.Cb[m.COffset(x, y)] = cb
			m.Cr[m.COffset(x, y)] = cr
		}
	}
	return m
}

func gray(src *image.RGBA) *image.Gray {
	m := image.NewGray(src.Bounds())
	draw.Draw(m, m.Bounds(), src, src.Bounds().Min, draw.Src)
	return m
}

func maxDiff(a, b []float32) float32 {
	var d float32
	for i := range a {
		d = max(d, a[i]-b[i], b[i]-a[i])
	}
	return d
}

// TestDeadlineDuringRun ends the context while the model runs: the run is
// terminated, the error says deadline, and the labeller still works after.
func TestDeadlineDuringRun(t *testing.T) {
	l := openForTest(t, Options{})
	p := roletest.LoadPhoto(t, "coffee.png")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Label(ctx, p)
	if err == nil {
		t.Skip("the model ran within 5 ms; nothing to terminate")
	}
	if cloud.CodeOf(err) != cloud.DeadlineExceeded {
		t.Errorf("code %v, want DeadlineExceeded (%v)", cloud.CodeOf(err), err)
	}
	t.Logf("returned after %v: %v", time.Since(start), err)
	labels, err := l.Label(context.Background(), p)
	if err != nil {
		t.Fatalf("Label after a terminated run: %v", err)
	}
	if len(labels) == 0 || labels[0].Name != "cup" {
		t.Errorf("after a terminated run coffee.png gave %v", describe(labels))
	}
}

func TestConcurrent(t *testing.T) {
	l := openForTest(t, Options{})
	files := []string{"coffee.png", "chelsea.png", "astronaut.png", "horse.png"}
	photos := map[string]*cloud.Photo{}
	for _, f := range files {
		photos[f] = roletest.LoadPhoto(t, f)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		f := files[i%len(files)]
		wg.Go(func() {
			labels, err := l.Label(context.Background(), photos[f])
			if err != nil {
				t.Error(err)
				return
			}
			want := roletest.LabellerExpectations[f]
			for _, lb := range labels {
				if lb.Name == want {
					return
				}
			}
			t.Errorf("%s (concurrent): labels %v, want %q", f, names(labels), want)
		})
	}
	wg.Wait()
}

func TestOpenMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(Options{ModelDir: dir})
	if cloud.CodeOf(err) != cloud.FailedPrecondition {
		t.Fatalf("Open on an empty folder: %v, want FailedPrecondition", err)
	}
	for _, want := range []string{filepath.Join(dir, ModelFile), "make assets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// A model without a library beside it, and a library path that is wrong.
	if err := os.WriteFile(filepath.Join(dir, ModelFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "nope", LibraryFile())
	_, err = Open(Options{ModelDir: dir, LibraryPath: lib})
	if cloud.CodeOf(err) != cloud.FailedPrecondition || !strings.Contains(err.Error(), lib) ||
		!strings.Contains(err.Error(), "make assets") {
		t.Errorf("Open with a missing library: %v", err)
	}
}

func TestFaces(t *testing.T) {
	if d := FindModelDir(); d != "" {
		if _, err := os.Stat(filepath.Join(d, FaceCascadeFile)); err != nil {
			t.Skipf("face cascade not in %s; run `make assets`", d)
		}
	}
	l := openForTest(t, Options{Faces: true})
	if !strings.Contains(l.Name(), "face") {
		t.Errorf("Name %q does not say that faces are detected", l.Name())
	}
	ctx := context.Background()
	labels, err := l.Label(ctx, roletest.LoadPhoto(t, "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("astronaut.png: %s", describe(labels))
	var face *cloud.Label
	for i := range labels {
		if labels[i].Name == "face" {
			face = &labels[i]
		}
	}
	if face == nil || face.Box == nil {
		t.Fatalf("astronaut.png: no face with a box in %v", describe(labels))
	}
	// The astronaut's face is in the upper middle of the portrait.
	b := face.Box
	cx, cy := b.X+b.W/2, b.Y+b.H/2
	if cx < 0.3 || cx > 0.6 || cy < 0.1 || cy > 0.4 || b.W > 0.4 {
		t.Errorf("face box %+v is not where the astronaut's face is", *b)
	}
	for _, f := range []string{"coffee.png", "horse.png", "coins.png"} {
		labels, err := l.Label(ctx, roletest.LoadPhoto(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, lb := range labels {
			if lb.Name == "face" {
				t.Errorf("%s: a face with score %.2f", f, lb.Score)
			}
		}
	}
}

func TestFindModelDirEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ModelFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MULTICLOUD_MODELS", dir)
	if got := FindModelDir(); got != dir {
		t.Errorf("FindModelDir = %q, want $MULTICLOUD_MODELS %q", got, dir)
	}
}

// BenchmarkLabel is the whole labelling of coffee.png from its decoded
// image: preprocessing, the model, decoding.
func BenchmarkLabel(b *testing.B) {
	l := openForTest(b, Options{})
	p := roletest.LoadPhoto(b, "coffee.png")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Label(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// directSession is ONNX Runtime driven straight through onnxruntime_go on
// the labeller's model, with the same session options and an input tensor
// prepared once from coffee.png.
type directSession struct {
	s       *ort.AdvancedSession
	in, out *ort.Tensor[float32]
}

func newDirectSession(b *testing.B, l *Labeller, p *cloud.Photo) *directSession {
	b.Helper()
	d := &directSession{}
	var err error
	if d.in, err = ort.NewEmptyTensor[float32](
		ort.NewShape(1, 3, inputSize, inputSize)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.in.Destroy() })
	if err := newResizer(inputSize).resize(p.Image, d.in.GetData()); err != nil {
		b.Fatal(err)
	}
	if d.out, err = ort.NewEmptyTensor[float32](ort.NewShape(1, maxDetections, 6)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.out.Destroy() })
	so, err := newSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	d.s, err = ort.NewAdvancedSession(filepath.Join(FindModelDir(), ModelFile),
		[]string{inputName}, []string{outputName}, []ort.Value{d.in}, []ort.Value{d.out}, so)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.s.Destroy() })
	return d
}

// BenchmarkDirectORT is the bare model run: the floor that BenchmarkLabel
// is measured against (goal: Label ≤ 1.2× this).
func BenchmarkDirectORT(b *testing.B) {
	l := openForTest(b, Options{}) // loads the environment, finds the files
	d := newDirectSession(b, l, roletest.LoadPhoto(b, "coffee.png"))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.s.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLabelVsDirect alternates one Label and one direct run per
// iteration and reports the ratio of their medians. Run one after the
// other, the two benchmarks above can see different machine load (CI and
// the developers' machines share 2 cores); alternating cancels that out.
func BenchmarkLabelVsDirect(b *testing.B) {
	l := openForTest(b, Options{})
	p := roletest.LoadPhoto(b, "coffee.png")
	d := newDirectSession(b, l, p)
	ctx := context.Background()
	var label, direct []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := l.Label(ctx, p); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := d.s.Run(); err != nil {
			b.Fatal(err)
		}
		label, direct = append(label, t1.Sub(t0)), append(direct, time.Since(t1))
	}
	ml, md := median(label), median(direct)
	b.ReportMetric(float64(ml)/1e6, "label-ms")
	b.ReportMetric(float64(md)/1e6, "direct-ms")
	b.ReportMetric(float64(ml)/float64(md), "ratio")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkPreprocess is the Go side alone, per image type.
func BenchmarkPreprocess(b *testing.B) {
	p := roletest.LoadPhoto(b, "coffee.png")
	bounds := p.Image.Bounds()
	rgba := image.NewRGBA(bounds)
	draw.Draw(rgba, bounds, p.Image, bounds.Min, draw.Src)
	nrgba := image.NewNRGBA(bounds)
	draw.Draw(nrgba, bounds, p.Image, bounds.Min, draw.Src)
	pal := image.NewPaletted(bounds, palette.Plan9)
	draw.Draw(pal, bounds, p.Image, bounds.Min, draw.Src)
	for _, img := range []image.Image{rgba, nrgba, ycbcr(rgba, image.YCbCrSubsampleRatio420),
		gray(rgba), pal, opaque{rgba}} {
		b.Run(strings.TrimPrefix(fmt.Sprintf("%T", img), "*image."), func(b *testing.B) {
			r := newResizer(inputSize)
			buf := make([]float32, 3*inputSize*inputSize)
			b.ReportAllocs()
			for b.Loop() {
				if err := r.resize(img, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
