package app

import (
	"context"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"

	"github.com/multicloud/multicloud/capture"
)

// previewLogEvery is how often the preview's frame rate is logged (debug).
const previewLogEvery = 10 * time.Second

// preview shows a capture source's frames in a canvas.Image.
//
// One producer goroutine reads frames into buffers it reuses and hands the
// newest to the UI goroutine. At most one update is queued there at a time:
// a frame that arrives while one is queued replaces it, and the stale one
// goes back to the free list. So the UI never falls behind the camera, the
// queue behind fyne.Do never grows, and the preview holds three frame
// buffers at most (shown, waiting, being filled) however long it runs.
type preview struct {
	img *canvas.Image
	do  func(func())
	// onError is called on the UI goroutine when the source fails.
	onError func(error)

	mirror atomic.Bool
	// frames counts frames shown, for the benchmark.
	frames atomic.Uint64

	mu     sync.Mutex
	ready  *image.RGBA   // newest frame, waiting for the UI goroutine
	free   []*image.RGBA // buffers the producer may fill
	queued bool          // an update is queued on the UI goroutine

	shown *image.RGBA // the frame on screen; UI goroutine only

	stopMu sync.Mutex
	stop   func() // ends the current producer and waits for it
}

func newPreview(do func(func()), onError func(error)) *preview {
	img := &canvas.Image{
		FillMode: canvas.ImageFillContain,
		// Fastest leaves scaling to the GPU; Smooth would rescale every
		// frame on the CPU.
		ScaleMode: canvas.ImageScaleFastest,
	}
	img.SetMinSize(fyne.NewSize(320, 240))
	return &preview{img: img, do: do, onError: onError}
}

// run starts a producer reading src. A running producer is stopped first.
func (p *preview) run(ctx context.Context, src capture.Source) {
	p.halt()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.produce(ctx, src)
	}()
	p.stopMu.Lock()
	p.stop = func() {
		cancel()
		<-done
	}
	p.stopMu.Unlock()
}

// halt stops the producer, if any, and waits until it has returned.
func (p *preview) halt() {
	p.stopMu.Lock()
	stop := p.stop
	p.stop = nil
	p.stopMu.Unlock()
	if stop != nil {
		stop()
	}
}

func (p *preview) produce(ctx context.Context, src capture.Source) {
	// With --verbose the rate actually shown is logged now and then, which
	// is how a slow preview on someone's machine can be told apart from a
	// slow camera.
	since, shown := time.Now(), p.frames.Load()
	for {
		if d := time.Since(since); d >= previewLogEvery {
			n := p.frames.Load()
			slog.Debug("preview", "fps", float64(n-shown)/d.Seconds(),
				"source_fps", src.Info().FPS)
			since, shown = time.Now(), n
		}
		buf, err := src.ReadFrame(ctx, p.take())
		if err != nil {
			if ctx.Err() == nil {
				p.do(func() { p.onError(err) })
			}
			return
		}
		if p.mirror.Load() {
			mirrorRGBA(buf)
		}
		p.mu.Lock()
		if p.ready != nil {
			// The UI has not taken the previous frame yet: it is stale now.
			p.free = append(p.free, p.ready)
		}
		p.ready = buf
		queue := !p.queued
		p.queued = true
		p.mu.Unlock()
		if queue {
			p.do(p.apply)
		}
	}
}

// take returns a buffer to read the next frame into, or nil to have
// ReadFrame allocate one (only until the three buffers exist).
func (p *preview) take() *image.RGBA {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return nil
}

// apply shows the newest frame. It runs on the UI goroutine.
func (p *preview) apply() {
	p.mu.Lock()
	buf := p.ready
	p.ready, p.queued = nil, false
	if buf != nil && p.shown != nil {
		// The painter reads the image only on this goroutine, through
		// img.Image: once that points elsewhere the old frame is free.
		p.free = append(p.free, p.shown)
	}
	p.mu.Unlock()
	if buf == nil {
		return
	}
	p.shown = buf
	p.img.Image = buf
	p.img.Refresh()
	p.frames.Add(1)
}

// mirrorRGBA flips img left to right in place, as a mirror shows a face.
func mirrorRGBA(img *image.RGBA) {
	w := img.Rect.Dx()
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for l, r := 0, 4*(w-1); l < r; l, r = l+4, r-4 {
			a := (*[4]byte)(row[l : l+4])
			b := (*[4]byte)(row[r : r+4])
			*a, *b = *b, *a
		}
	}
}
