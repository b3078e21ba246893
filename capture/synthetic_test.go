package capture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"strings"
	"sync"
	"testing"
	"time"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSyntheticFramesMove(t *testing.T) {
	src, err := Open("synthetic", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if info := src.Info(); info.Width != 640 || info.Height != 480 || info.FPS != 30 ||
		info.Name == "" {
		t.Fatalf("Info() = %+v, want a named 640x480 source at 30 fps", info)
	}
	ctx := testContext(t)
	first, err := src.ReadFrame(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Rect != image.Rect(0, 0, 640, 480) {
		t.Fatalf("frame bounds %v, want 640x480", first.Rect)
	}
	start := time.Now()
	var last *image.RGBA
	const n = 10
	for range n {
		if last, err = src.ReadFrame(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Paced at 30 fps: ten frames take about a third of a second, not a few microseconds.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("%d frames in %v: ReadFrame is not paced", n, d)
	}
	if bytes.Equal(first.Pix, last.Pix) {
		t.Error("the test pattern did not change between frames")
	}
}

func TestReadFrameReusesDst(t *testing.T) {
	src, err := Open("synthetic", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := testContext(t)
	dst := image.NewRGBA(image.Rect(0, 0, 640, 480))
	got, err := src.ReadFrame(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got != dst {
		t.Error("a dst of the right size was not reused")
	}
	small := image.NewRGBA(image.Rect(0, 0, 10, 10))
	got, err = src.ReadFrame(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	if got == small || got.Rect != image.Rect(0, 0, 640, 480) {
		t.Errorf("a dst of the wrong size gave %v (same image: %v)", got.Rect, got == small)
	}
}

func TestSyntheticHonoursSize(t *testing.T) {
	src := openSynthetic(Options{Width: 320}, syntheticFPS)
	defer src.Close()
	img, err := src.ReadFrame(testContext(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != 320 || img.Rect.Dy() != 240 {
		t.Fatalf("frame %v, want 320x240 (width given, 4:3 kept)", img.Rect)
	}
}

func TestSyntheticSnapshotIsJPEG(t *testing.T) {
	src, err := Open("synthetic", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	shot, err := src.Snapshot(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if shot.ContentType != "image/jpeg" || !strings.HasPrefix(shot.Name, "photo-") ||
		!strings.HasSuffix(shot.Name, ".jpg") || shot.Image == nil {
		t.Fatalf("shot %q %q image %v", shot.ContentType, shot.Name, shot.Image != nil)
	}
	img, err := jpeg.Decode(bytes.NewReader(shot.Data))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 640, 480) {
		t.Fatalf("photo bounds %v", img.Bounds())
	}
}

func TestCloseTwiceAndAfterClose(t *testing.T) {
	src, err := Open("synthetic", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := testContext(t)
	if _, err := src.ReadFrame(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame after Close: %v, want ErrClosed", err)
	}
	if _, err := src.Snapshot(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Snapshot after Close: %v, want ErrClosed", err)
	}
}

func TestReadFrameHonoursContext(t *testing.T) {
	// A 1 fps source: the second ReadFrame has to wait, so the deadline decides.
	src := openSynthetic(Options{}, 1)
	defer src.Close()
	if _, err := src.ReadFrame(testContext(t), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := src.ReadFrame(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
}

// TestCloseWhileReading closes a source while other goroutines read frames, take photos
// and ask for Info; run with -race.
func TestCloseWhileReading(t *testing.T) {
	for _, spec := range []string{"synthetic", "file:" + photosDir} {
		t.Run(spec, func(t *testing.T) {
			src, err := Open(spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := testContext(t)
			var wg sync.WaitGroup
			frames := make(chan int, 1)
			firstFrame := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				var dst *image.RGBA
				n := 0
				for {
					img, err := src.ReadFrame(ctx, dst)
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							t.Errorf("ReadFrame: %v, want ErrClosed", err)
						}
						frames <- n
						return
					}
					// Touch every pixel: the race detector flags any write by the source.
					for i := range img.Pix {
						img.Pix[i]++
					}
					dst = img
					if n++; n == 1 {
						close(firstFrame)
					}
				}
			}()
			go func() {
				defer wg.Done()
				for {
					_ = src.Info()
					if _, err := src.Snapshot(ctx); err != nil {
						return
					}
				}
			}()
			// The file source fits its first photo slowly under -race; close once
			// frames flow, so that Close meets a reader mid-stream.
			select {
			case <-firstFrame:
			case <-ctx.Done():
			}
			time.Sleep(100 * time.Millisecond)
			if err := src.Close(); err != nil {
				t.Error(err)
			}
			wg.Wait()
			if n := <-frames; n == 0 {
				t.Error("no frame was read before Close")
			}
		})
	}
}

func TestPatternDrawsWithoutAllocating(t *testing.T) {
	p := newPattern(640, 480)
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	n := 0
	if a := testing.AllocsPerRun(20, func() { p.draw(img, n); n++ }); a != 0 {
		t.Fatalf("drawing a frame allocates %v times", a)
	}
}

// BenchmarkSyntheticReadFrame reads the test pattern as the preview does, reusing its
// image. "paced" is the real source (about 30 frames/s); "unpaced" draws frames as fast as
// it can, which measures what one frame costs (draw, publish, copy).
func BenchmarkSyntheticReadFrame(b *testing.B) {
	for _, bc := range []struct {
		name string
		fps  float32
	}{{"paced", syntheticFPS}, {"unpaced", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			src := openSynthetic(Options{}, bc.fps)
			defer src.Close()
			ctx := context.Background()
			// Two frames in, both of the source's buffers and dst exist: steady state.
			var dst *image.RGBA
			var err error
			for range 3 {
				if dst, err = src.ReadFrame(ctx, dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = src.ReadFrame(ctx, dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
