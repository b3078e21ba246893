package app

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/multicloud/multicloud/capture"
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/localstore"
	"github.com/multicloud/multicloud/cloud/pipeline"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

// uiQueue stands in for the UI goroutine: Options.Do appends to it and the
// test's goroutine runs what is queued, as Fyne's event loop would. Widgets
// are then only ever touched by one goroutine, and -race stays meaningful.
type uiQueue struct {
	mu   sync.Mutex
	fns  []func()
	wake chan struct{}
}

func newUIQueue() *uiQueue { return &uiQueue{wake: make(chan struct{}, 1)} }

func (q *uiQueue) do(f func()) {
	q.mu.Lock()
	q.fns = append(q.fns, f)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run runs what is queued now and reports whether there was anything.
func (q *uiQueue) run() bool {
	q.mu.Lock()
	fns := q.fns
	q.fns = nil
	q.mu.Unlock()
	for _, f := range fns {
		f()
	}
	return len(fns) > 0
}

// harness is a window on the test driver with real local providers in a
// temporary folder.
type harness struct {
	t     testing.TB
	q     *uiQueue
	ui    *UI
	cfg   *config.Config
	store *flakyStore
	cat   *sqlitecat.Catalogue
	pl    *pipeline.Pipeline
	dir   string
}

type harnessOpts struct {
	labeller cloud.Labeller
	camera   string // default "synthetic"
	open     func(string, capture.Options) (capture.Source, error)
	noStart  bool
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	test.NewTempApp(t)
	dir := t.TempDir()
	ls, err := localstore.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlitecat.Open(filepath.Join(dir, "catalogue.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if o.labeller == nil {
		o.labeller = fakeLabeller{}
	}
	if o.camera == "" {
		o.camera = "synthetic"
	}
	cfg, err := config.Load(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ResolveDataDir(dir)
	h := &harness{t: t, q: newUIQueue(), cfg: cfg, store: &flakyStore{Store: ls}, cat: cat,
		dir: dir}
	h.pl = &pipeline.Pipeline{Store: h.store, Labeller: o.labeller, Catalogue: cat}
	ui, err := New(fyne.CurrentApp(), Options{Config: cfg, Pipeline: h.pl, DataDir: dir,
		Camera: o.camera, OpenSource: o.open, Do: h.q.do})
	if err != nil {
		t.Fatal(err)
	}
	h.ui = ui
	t.Cleanup(func() {
		ui.Stop()
		h.q.run() // what the stopped goroutines queued last
	})
	ui.Window().Resize(fyne.NewSize(1100, 720))
	ui.Window().Show()
	if !o.noStart {
		ui.Start()
	}
	return h
}

// pump runs the UI queue until cond holds, failing the test after a while.
func (h *harness) pump(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		if !h.q.run() {
			select {
			case <-h.q.wake:
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// waitPreview waits until the preview shows a frame: the shutter needs a
// source, which opens in the background.
func (h *harness) waitPreview() {
	h.pump("the first preview frame", func() bool { return h.ui.capture.preview.frames.Load() > 0 })
}

func (h *harness) recorded() bool {
	c := h.ui.capture
	return !c.running && c.record.rec != nil
}

// fakeLabeller says every photo shows a cup and a table. Only for tests of
// the window's logic; the labelling itself is tested with the real model.
type fakeLabeller struct{}

func (fakeLabeller) Label(context.Context, *cloud.Photo) ([]cloud.Label, error) {
	return []cloud.Label{{Name: "cup", Score: 0.91}, {Name: "dining table", Score: 0.48}}, nil
}
func (fakeLabeller) Name() string { return "fake" }
func (fakeLabeller) Close() error { return nil }

// flakyStore is the local store with a switch that makes Put fail the way
// an unreachable cloud store does.
type flakyStore struct {
	*localstore.Store
	fail atomic.Bool
}

func (s *flakyStore) Put(ctx context.Context, key string, body io.ReadSeeker,
	opts cloud.PutOptions) (cloud.Object, error) {
	if s.fail.Load() {
		return cloud.Object{}, cloud.Errorf(cloud.Unavailable, "put", "the disk is unplugged")
	}
	return s.Store.Put(ctx, key, body, opts)
}

// jpegOf is a small photo of one colour.
func jpegOf(t testing.TB, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// find returns the first object below o (through containers and widget
// renderers) for which match holds.
func find(o fyne.CanvasObject, match func(fyne.CanvasObject) bool) fyne.CanvasObject {
	if o == nil {
		return nil
	}
	if match(o) {
		return o
	}
	var kids []fyne.CanvasObject
	switch v := o.(type) {
	case *fyne.Container:
		kids = v.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(v).Objects()
	}
	for _, k := range kids {
		if f := find(k, match); f != nil {
			return f
		}
	}
	return nil
}

// button finds a visible button by its text in the window or its dialogs,
// topmost first.
func (h *harness) button(text string) *widget.Button {
	c := h.ui.Window().Canvas()
	roots := c.Overlays().List()
	for i := len(roots) - 1; i >= 0; i-- {
		if b := findButton(roots[i], text); b != nil {
			return b
		}
	}
	return findButton(c.Content(), text)
}

func findButton(root fyne.CanvasObject, text string) *widget.Button {
	o := find(root, func(o fyne.CanvasObject) bool {
		b, ok := o.(*widget.Button)
		return ok && b.Text == text && b.Visible()
	})
	if o == nil {
		return nil
	}
	return o.(*widget.Button)
}

// hasText reports whether a label or rich text below o shows s.
func hasText(o fyne.CanvasObject, s string) bool {
	return find(o, func(o fyne.CanvasObject) bool {
		switch v := o.(type) {
		case *widget.Label:
			return v.Visible() && v.Text == s
		}
		return false
	}) != nil
}

func imageRGBA(w, h int, pix []byte) *image.RGBA {
	return &image.RGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
}

func fileURI(path string) fyne.URI { return storage.NewFileURI(path) }
