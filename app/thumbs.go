package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
)

const (
	// thumbEdge is the longer side of a thumbnail in pixels: sharp in a
	// 160-point cell on a 1.25× screen, small enough to keep hundreds.
	thumbEdge = 240
	// thumbsInMemory bounds the decoded thumbnails kept for scrolling back:
	// about 30 MB at the JPEG decoder's 1.5 bytes per pixel.
	thumbsInMemory = 600
)

// thumbCache makes thumbnails of stored photos and keeps them on disk
// (<data>/thumbs/<id>.jpg) and the most recent in memory, so scrolling
// reads each original at most once ever.
//
// Requests are served newest first by a few workers: when someone scrolls
// fast, the cells now on screen are drawn before the ones scrolled past.
type thumbCache struct {
	dir   string
	store cloud.Store
	do    func(func())

	// mem and order are touched on the UI goroutine only.
	mem   map[string]thumb
	order []string

	mu      sync.Mutex
	stack   []thumbRequest
	queued  map[string]bool
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
}

// thumb is a thumbnail or why there is none.
type thumb struct {
	img image.Image
	err error
}

type thumbRequest struct {
	rec  *cloud.Record
	done func(thumb) // on the UI goroutine
}

func newThumbCache(dir string, store cloud.Store, do func(func())) *thumbCache {
	ctx, cancel := context.WithCancel(context.Background())
	t := &thumbCache{
		dir: dir, store: store, do: do,
		mem:    map[string]thumb{},
		queued: map[string]bool{},
		wake:   make(chan struct{}, 1),
		ctx:    ctx, cancel: cancel,
	}
	n := max(1, min(runtime.NumCPU(), 4))
	for range n {
		t.workers.Add(1)
		go t.work()
	}
	return t
}

// get returns a thumbnail kept in memory. UI goroutine.
func (t *thumbCache) get(id string) (thumb, bool) {
	th, ok := t.mem[id]
	return th, ok
}

// request makes the thumbnail of rec in the background and calls done with
// it on the UI goroutine. A request for a thumbnail already on its way is
// dropped: the first request's done will refresh the cell.
func (t *thumbCache) request(rec *cloud.Record, done func(thumb)) {
	t.mu.Lock()
	if t.queued[rec.ID] {
		t.mu.Unlock()
		return
	}
	t.queued[rec.ID] = true
	t.stack = append(t.stack, thumbRequest{rec: rec, done: done})
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// drop forgets requests not yet started: after a new search they are for
// cells that no longer exist.
func (t *thumbCache) drop() {
	t.mu.Lock()
	for _, r := range t.stack {
		delete(t.queued, r.rec.ID)
	}
	t.stack = t.stack[:0]
	t.mu.Unlock()
}

// forget removes a deleted photo's thumbnail from memory and disk.
func (t *thumbCache) forget(id string) {
	delete(t.mem, id)
	if err := os.Remove(t.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("removing a thumbnail", "id", id, "err", err)
	}
}

func (t *thumbCache) stop() {
	t.cancel()
	t.workers.Wait()
}

func (t *thumbCache) path(id string) string { return filepath.Join(t.dir, id+".jpg") }

func (t *thumbCache) work() {
	defer t.workers.Done()
	for {
		t.mu.Lock()
		var r thumbRequest
		n := len(t.stack)
		if n > 0 {
			r = t.stack[n-1]
			t.stack = t.stack[:n-1]
		}
		t.mu.Unlock()
		if n == 0 {
			select {
			case <-t.ctx.Done():
				return
			case <-t.wake:
				continue
			}
		}
		img, err := t.make(r.rec)
		if err != nil && t.ctx.Err() != nil {
			return
		}
		if err != nil {
			slog.Warn("no thumbnail", "id", r.rec.ID, "err", err)
		}
		th := thumb{img: img, err: err}
		t.do(func() {
			t.remember(r.rec.ID, th)
			t.mu.Lock()
			delete(t.queued, r.rec.ID)
			t.mu.Unlock()
			r.done(th)
		})
	}
}

// remember keeps th in memory, forgetting the oldest beyond the bound.
func (t *thumbCache) remember(id string, th thumb) {
	if _, ok := t.mem[id]; !ok {
		t.order = append(t.order, id)
	}
	t.mem[id] = th
	for len(t.order) > thumbsInMemory {
		delete(t.mem, t.order[0])
		t.order = t.order[1:]
	}
}

// make reads the thumbnail from disk, or makes it from the original and
// writes it there.
func (t *thumbCache) make(rec *cloud.Record) (image.Image, error) {
	p := t.path(rec.ID)
	if b, err := os.ReadFile(p); err == nil {
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err == nil {
			return img, nil
		}
		slog.Warn("remaking a damaged thumbnail", "id", rec.ID, "err", err)
	}

	rc, err := t.store.Open(t.ctx, rec.Key)
	if err != nil {
		return nil, fmt.Errorf("reading the original: %w", err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the original: %w", err)
	}
	d, err := photo.Decode(data, 0)
	if err != nil {
		return nil, err
	}
	small := imaging.Fit(d.Image, thumbEdge, thumbEdge, imaging.Linear)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, small, &jpeg.Options{Quality: 82}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return small, nil // shown anyway; made again next time
	}
	if err := writeAtomic(p, buf.Bytes()); err != nil {
		slog.Warn("could not keep a thumbnail", "id", rec.ID, "err", err)
	}
	return small, nil
}
