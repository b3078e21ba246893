package capture

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"time"
)

// stream is the part every source shares: one producer goroutine publishes frames into it,
// ReadFrame and Snapshot take them out.
//
// Frames are double-buffered: the producer fills the spare image while readers copy the
// latest one under mu, then publish swaps the two. Nothing is allocated per frame once both
// buffers exist, which keeps the preview loop free of garbage.
type stream struct {
	info Info

	mu       sync.Mutex
	latest   *image.RGBA // last published frame, read only under mu
	tag      any         // producer data published with latest (the file source's photo)
	spare    *image.RGBA // owned by the producer between back and publish
	seq      uint64      // frames published so far
	read     uint64      // seq of the frame ReadFrame handed out last
	err      error       // why the producer stopped, if it failed
	closed   bool
	gotFirst bool

	// wake holds at most one token saying "a frame was published". A token instead of a
	// channel closed per frame keeps publish allocation-free; readers re-check seq anyway.
	wake  chan struct{}
	first chan struct{} // closed by the first publish: Snapshot waits on it
	done  chan struct{} // closed when the stream ends (Close or producer failure)

	stop      chan struct{} // closed by Close: the producer must return
	exited    chan struct{} // closed by the producer when it returns
	closeOnce sync.Once
	failOnce  sync.Once
	// release frees the device; Close calls it after stop and before waiting for exited,
	// because a producer blocked inside a driver read only returns once the device closes.
	release func() error
}

func newStream(info Info) *stream {
	return &stream{
		info:   info,
		wake:   make(chan struct{}, 1),
		first:  make(chan struct{}),
		done:   make(chan struct{}),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// run starts the producer goroutine; exited is closed when produce returns.
func (s *stream) run(produce func()) {
	go func() {
		defer close(s.exited)
		produce()
	}()
}

// back returns an image of size w×h the producer may fill before publishing it.
func (s *stream) back(w, h int) *image.RGBA {
	s.mu.Lock()
	img := s.spare
	s.spare = nil
	s.mu.Unlock()
	if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
		img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	return img
}

// publish makes img the latest frame; tag travels with it (see current). The producer
// must not touch img afterwards.
func (s *stream) publish(img *image.RGBA, tag any) {
	s.mu.Lock()
	s.spare, s.latest = s.latest, img
	s.tag = tag
	s.seq++
	first := !s.gotFirst
	s.gotFirst = true
	if s.info.Width != img.Rect.Dx() || s.info.Height != img.Rect.Dy() {
		// A driver may deliver another size than it agreed to; report what arrives.
		s.info.Width, s.info.Height = img.Rect.Dx(), img.Rect.Dy()
	}
	s.mu.Unlock()
	if first {
		close(s.first)
	}
	s.signal()
}

// repeat publishes the latest frame again, for sources whose picture has not changed.
func (s *stream) repeat() {
	s.mu.Lock()
	s.seq++
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// fail ends the stream with err: readers get it instead of frames.
func (s *stream) fail(err error) {
	s.failOnce.Do(func() {
		s.mu.Lock()
		if !s.closed {
			s.err = err
		}
		s.mu.Unlock()
		close(s.done)
	})
}

// stopping is closed when the producer must return.
func (s *stream) stopping() <-chan struct{} { return s.stop }

// sleep waits d or until Close; it reports whether the producer should go on.
func (s *stream) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.stop:
		return false
	case <-t.C:
		return true
	}
}

func (s *stream) ReadFrame(ctx context.Context, dst *image.RGBA) (*image.RGBA, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			return nil, ErrClosed
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			return nil, err
		case s.seq != s.read && s.latest != nil:
			dst = copyRGBA(dst, s.latest)
			s.read = s.seq
			s.mu.Unlock()
			return dst, nil
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// current waits until a frame exists, the stream ends or ctx is done; then it returns the
// tag of the latest frame and, when copyFrame is set, a private copy of the frame.
func (s *stream) current(ctx context.Context, copyFrame bool) (*image.RGBA, any, error) {
	select {
	case <-s.first:
	case <-s.done:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under mu: Close may have run since first was closed, and it drops the frame.
	switch {
	case s.closed:
		return nil, nil, ErrClosed
	case s.err != nil:
		return nil, nil, s.err
	case s.latest == nil: // unreachable: first is closed only after a frame is published
		return nil, nil, ErrClosed
	}
	var img *image.RGBA
	if copyFrame {
		img = copyRGBA(nil, s.latest)
	}
	return img, s.tag, nil
}

// Snapshot encodes a copy of the latest frame as JPEG; sources with better originals (the
// file source) provide their own.
func (s *stream) Snapshot(ctx context.Context) (Shot, error) {
	img, _, err := s.current(ctx, true)
	if err != nil {
		return Shot{}, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		return Shot{}, fmt.Errorf("capture: encode photo: %w", err)
	}
	return Shot{
		Data:        buf.Bytes(),
		ContentType: "image/jpeg",
		Name:        photoName(time.Now()),
		Image:       img,
	}, nil
}

// photoName names a photo after the moment it was taken, to the millisecond so that two
// photos taken in one second do not overwrite each other.
func photoName(t time.Time) string {
	return fmt.Sprintf("photo-%s-%03d.jpg", t.Format("20060102-150405"),
		t.Nanosecond()/int(time.Millisecond))
}

func (s *stream) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.failOnce.Do(func() { close(s.done) })
		close(s.stop)
		if s.release != nil {
			err = s.release()
		}
		<-s.exited
		s.mu.Lock()
		// Drop the buffers now rather than when the caller drops the Source.
		s.latest, s.spare, s.tag = nil, nil, nil
		s.mu.Unlock()
	})
	return err
}

// copyRGBA copies src into dst, reusing dst when it has src's size and allocating an image
// at the origin otherwise.
func copyRGBA(dst, src *image.RGBA) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	if w == 0 || h == 0 {
		return dst
	}
	n := 4 * w
	if dst.Stride == n && src.Stride == n {
		copy(dst.Pix[:n*h], src.Pix[:n*h])
		return dst
	}
	for y := 0; y < h; y++ {
		copy(dst.Pix[y*dst.Stride:y*dst.Stride+n], src.Pix[y*src.Stride:y*src.Stride+n])
	}
	return dst
}
