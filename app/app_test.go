package app

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/multicloud/multicloud/capture"
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/cloud/pipeline"
)

func TestShutterRecordsAndShowsLabels(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitPreview()

	test.Tap(h.ui.capture.shutterB)
	h.pump("the record", h.recorded)

	c := h.ui.capture
	if !hasText(c.labels.box, "cup") || !hasText(c.labels.box, "dining table") {
		t.Error("the result panel does not show the labels")
	}
	rec := c.record.rec
	got, err := h.cat.Get(context.Background(), rec.ID)
	if err != nil {
		t.Fatalf("the catalogue has no record %s: %v", rec.ID, err)
	}
	if got.Source != "camera" || got.Width != 640 || got.Height != 480 {
		t.Errorf("record = %+v, want a 640×480 camera photo", got)
	}
	if c.record.id.Text != rec.ID || c.record.url.Text != rec.URL {
		t.Errorf("the record panel shows id %q url %q", c.record.id.Text, c.record.url.Text)
	}
	for _, s := range []pipeline.Step{pipeline.StepStore, pipeline.StepLabel,
		pipeline.StepRecord} {
		if st := c.steps[s].state.Text; st != "done" {
			t.Errorf("step %s shows %q, want done", s, st)
		}
	}
	if c.photo.Image == nil {
		t.Error("the result panel shows no photo")
	}
	if left := pendingFiles(t, h); len(left) != 0 {
		t.Errorf("pending still holds %v after the record was written", left)
	}

	test.Tap(c.record.copyURL)
	if clip := fyne.CurrentApp().Clipboard().Content(); clip != rec.URL {
		t.Errorf("the copy button copied %q, want %q", clip, rec.URL)
	}
}

func TestSpaceTriggersShutter(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitPreview()

	// A tapped check box must not keep the focus, or it would take Space.
	test.Tap(h.ui.capture.mirror)
	if f := h.ui.Window().Canvas().Focused(); f != nil {
		t.Errorf("%T keeps the focus after a tap", f)
	}
	h.ui.Window().Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeySpace})
	h.pump("the record after Space", h.recorded)
}

func TestCountdownThenShutter(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitPreview()
	test.Tap(h.ui.capture.countdwn)
	if !h.cfg.Camera.Countdown {
		t.Fatal("the countdown box did not change the setting")
	}

	start := time.Now()
	test.Tap(h.ui.capture.shutterB)
	c := h.ui.capture
	h.pump("the countdown", func() bool { return c.count.Visible() && c.count.Text == "3" })
	test.Tap(c.shutterB) // ignored while counting down
	h.pump("the record", h.recorded)
	if d := time.Since(start); d < (countdownSteps-1)*time.Second {
		t.Errorf("the photo was taken after %v, before the countdown ended", d)
	}
	page, err := h.cat.List(context.Background(), cloud.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Errorf("%d records (%v), want one photo for two presses", len(page.Records), err)
	}
}

func TestFailingStoreKeepsPhotoForRetry(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitPreview()
	h.store.fail.Store(true)

	test.Tap(h.ui.capture.shutterB)
	c := h.ui.capture
	h.pump("the failure", func() bool { return !c.running && c.retry.Visible() })

	if !strings.Contains(c.failure.Text, "Store failed") ||
		!strings.Contains(c.failure.Text, "the disk is unplugged") {
		t.Errorf("failure text %q does not say which step failed and why", c.failure.Text)
	}
	if st := c.steps[pipeline.StepStore].state.Text; !strings.HasPrefix(st, "failed") {
		t.Errorf("the store step shows %q", st)
	}
	if c.photo.Image == nil {
		t.Error("the photo is not shown after the failure")
	}
	files := pendingFiles(t, h)
	if len(files) != 2 {
		t.Fatalf("pending holds %v, want the photo and its job", files)
	}
	page, err := h.cat.List(context.Background(), cloud.Query{})
	if err != nil || len(page.Records) != 0 {
		t.Fatalf("the catalogue has %d records (%v) after a failed store", len(page.Records),
			err)
	}
	failed := c.cur

	h.store.fail.Store(false)
	test.Tap(c.retry)
	h.pump("the record after retry", h.recorded)
	if c.cur != failed {
		t.Error("retry did not run the same job")
	}
	if _, err := h.cat.Get(context.Background(), failed.ID); err != nil {
		t.Errorf("no record after retry: %v", err)
	}
	if left := pendingFiles(t, h); len(left) != 0 {
		t.Errorf("pending still holds %v after retry succeeded", left)
	}
	if c.retry.Visible() || c.failure.Visible() {
		t.Error("retry or the failure are still shown after success")
	}
}

// brokenLabeller fails like an on-device labeller whose model is missing.
type brokenLabeller struct{}

func (brokenLabeller) Label(context.Context, *cloud.Photo) ([]cloud.Label, error) {
	return nil, cloud.Errorf(cloud.FailedPrecondition, "ondevice open", "no model found")
}
func (brokenLabeller) Name() string { return "broken" }
func (brokenLabeller) Close() error { return nil }

func TestLabellerFailureNamesTheStepAndTheCause(t *testing.T) {
	h := newHarness(t, harnessOpts{labeller: brokenLabeller{}})
	h.waitPreview()
	test.Tap(h.ui.capture.shutterB)
	c := h.ui.capture
	h.pump("the failure", func() bool { return !c.running && c.retry.Visible() })
	for _, want := range []string{"Label failed", "no model found", "cause is fixed"} {
		if !strings.Contains(c.failure.Text, want) {
			t.Errorf("failure text %q lacks %q", c.failure.Text, want)
		}
	}
	if st := c.steps[pipeline.StepStore].state.Text; st != "done" {
		t.Errorf("the store step shows %q, want done: the photo is stored", st)
	}
	if len(pendingFiles(t, h)) != 2 {
		t.Error("the photo is not kept in pending")
	}
}

func TestPendingPhotoIsFinishedAfterRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	job, err := h.pl.Prepare(pipeline.Input{Data: jpegOf(t, color.RGBA{200, 30, 30, 255}),
		Name: "left-over.jpg", Source: "import"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ui.pending.save(job); err != nil {
		t.Fatal(err)
	}

	h.ui.Start()
	c := h.ui.capture
	h.pump("the pending banner", c.banner.Visible)
	test.Tap(h.button("Finish them"))
	h.pump("the pending photo recorded", h.recorded)
	if _, err := h.cat.Get(context.Background(), job.ID); err != nil {
		t.Fatalf("the pending photo was not recorded: %v", err)
	}
	h.pump("pending to empty", func() bool { return len(pendingFiles(t, h)) == 0 })
}

func TestMissingCameraIsAMessage(t *testing.T) {
	h := newHarness(t, harnessOpts{open: func(string, capture.Options) (capture.Source, error) {
		return nil, fmt.Errorf("capture: /dev/video0: %w", capture.ErrNoCamera)
	}})
	c := h.ui.capture
	h.pump("the no-camera message", c.noCamera.Visible)
	if !strings.Contains(c.message.Text, "No camera") {
		t.Errorf("message = %q", c.message.Text)
	}
	// The shutter says why instead of crashing.
	test.Tap(c.shutterB)
	if len(h.ui.Window().Canvas().Overlays().List()) == 0 {
		t.Error("the shutter without a camera showed nothing")
	}
}

func TestImportDroppedFiles(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	dir := t.TempDir()
	for i, c := range []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}} {
		p := filepath.Join(dir, fmt.Sprintf("p%d.jpg", i))
		if err := os.WriteFile(p, jpegOf(t, c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.ui.capture.importURIs([]fyne.URI{fileURI(dir)})
	h.pump("two imports", func() bool {
		page, _ := h.cat.List(context.Background(), cloud.Query{})
		return len(page.Records) == 2 && !h.ui.capture.running
	})
}

func TestGallerySearchNarrowsTheGrid(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	seedRecords(t, h, []seed{
		{"cat", 0.9, color.RGBA{200, 120, 40, 255}},
		{"cat", 0.4, color.RGBA{180, 100, 40, 255}},
		{"dog", 0.8, color.RGBA{40, 120, 200, 255}},
	})
	g := h.ui.gallery
	h.ui.ShowGallery()
	h.pump("three photos", func() bool { return len(g.recs) == 3 && !g.loading })
	if !hasText(g.grid, "cat 90%") || !hasText(g.grid, "dog 80%") {
		t.Error("the grid does not show the photos' cells")
	}
	h.pump("the thumbnails on disk", func() bool {
		m, _ := filepath.Glob(filepath.Join(h.dir, "thumbs", "*.jpg"))
		return len(m) == 3
	})

	g.search.SetText("Cat")
	h.pump("two cats", func() bool { return len(g.recs) == 2 && !g.loading })
	g.minScore.SetValue(0.5)
	g.minScore.OnChangeEnded(0.5)
	h.pump("one sure cat", func() bool { return len(g.recs) == 1 && !g.loading })
	if g.recs[0].Labels[0].Score != 0.9 {
		t.Errorf("the remaining photo is %+v", g.recs[0].Labels)
	}
	g.search.SetText("")
	h.pump("all three again", func() bool { return len(g.recs) == 3 && !g.loading })
}

func TestThumbnailsComeFromDiskOnceMade(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	seedRecords(t, h, []seed{{"cup", 0.7, color.RGBA{10, 200, 10, 255}}})
	page, err := h.cat.List(context.Background(), cloud.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Fatal(page, err)
	}
	rec := page.Records[0]
	if _, err := h.ui.thumbs.make(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "thumbs", rec.ID+".jpg")); err != nil {
		t.Fatalf("no thumbnail on disk: %v", err)
	}
	// Without the original, only the file on disk can give the thumbnail.
	if err := h.store.Delete(context.Background(), rec.Key); err != nil {
		t.Fatal(err)
	}
	img, err := h.ui.thumbs.make(rec)
	if err != nil || img.Bounds().Dx() == 0 {
		t.Fatalf("the thumbnail was not read back from disk: %v", err)
	}
}

func TestGalleryDeleteAsksFirst(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	seedRecords(t, h, []seed{{"cup", 0.7, color.RGBA{10, 200, 10, 255}}})
	g := h.ui.gallery
	h.ui.ShowGallery()
	h.pump("the photo", func() bool { return len(g.recs) == 1 && !g.loading })
	id := g.recs[0].ID

	g.grid.OnSelected(0)
	test.Tap(h.button("Delete…"))
	keep := h.button("Keep")
	if keep == nil || h.button("Delete") == nil {
		t.Fatal("delete did not ask for confirmation")
	}
	test.Tap(keep)
	h.q.run()
	if _, err := h.cat.Get(context.Background(), id); err != nil {
		t.Fatalf("cancelling the confirmation deleted the record: %v", err)
	}
	if len(g.recs) != 1 {
		t.Fatal("cancelling removed the photo from the grid")
	}

	// Escape on the confirmation keeps the photo too.
	test.Tap(h.button("Delete…"))
	escape := h.ui.Window().Canvas().OnTypedKey()
	escape(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if h.button("Keep") != nil || len(g.recs) != 1 {
		t.Fatal("Escape did not close the confirmation, or deleted")
	}

	test.Tap(h.button("Delete…"))
	test.Tap(h.button("Delete"))
	h.pump("the deletion", func() bool { return len(g.recs) == 0 })
	if h.button("Delete…") != nil {
		t.Error("the detail stays open after its photo was deleted")
	}
	if _, err := h.cat.Get(context.Background(), id); !cloud.IsNotFound(err) {
		t.Errorf("the record is still there after delete: %v", err)
	}
}

// TestOnDeviceLabellerThroughFileSource is the whole path with the real
// model: a folder replayed as a camera, the shutter, and the on-device
// labeller finding the cup in coffee.png.
func TestOnDeviceLabellerThroughFileSource(t *testing.T) {
	if ondevice.FindModelDir() == "" {
		t.Skip("the on-device model is not there: run `make assets`")
	}
	photo := filepath.Join("..", "..", "shared", "photos", "coffee.png")
	if _, err := os.Stat(photo); err != nil {
		t.Skipf("no test photo: %v", err)
	}
	dir := t.TempDir()
	data, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "coffee.png"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	lab, err := ondevice.Open(ondevice.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	h := newHarness(t, harnessOpts{labeller: lab, camera: "file:" + dir})
	h.waitPreview()

	test.Tap(h.ui.capture.shutterB)
	h.pump("the record", h.recorded)
	rec := h.ui.capture.record.rec
	if rec.Name != "coffee.png" || rec.Labeller != lab.Name() {
		t.Errorf("record = %+v", rec)
	}
	if !hasText(h.ui.capture.labels.box, "cup") {
		t.Errorf("labels %+v do not include cup", rec.Labels)
	}
}

func TestSettingsSaveKeepsDataFolderOverride(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	s := h.ui.settings
	s.threshold.SetValue(0.6)
	s.save()
	data, err := os.ReadFile(h.cfg.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "threshold = 0.6") {
		t.Errorf("the saved settings do not have the threshold:\n%s", data)
	}
	if strings.Contains(string(data), h.dir) {
		t.Errorf("the data folder given for this run was saved:\n%s", data)
	}
}

func TestSecretFieldIsNeverShownBack(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	secret := "s3cr3t-key"
	stored := secret
	r := role{title: "test", get: func(*config.Config) string { return "p" },
		set: func(*config.Config, string) {},
		providers: []provider{{name: "p", title: "P", fields: []providerField{{
			label: "Key", kind: secretField,
			get: func(*config.Config) string { return stored },
			set: func(_ *config.Config, v string) { stored = v },
		}}}}}
	re := h.ui.settings.newRoleEdit(r, h.cfg)
	o := find(re.form, func(o fyne.CanvasObject) bool {
		_, ok := o.(*widget.Entry)
		return ok
	})
	e, _ := o.(*widget.Entry)
	if e == nil || !e.Password || e.Text != "" {
		t.Fatalf("the secret is edited in %#v, want an empty password entry", o)
	}
	for _, apply := range re.entries {
		apply(h.cfg)
	}
	if stored != secret {
		t.Errorf("an untouched secret entry changed the secret to %q", stored)
	}
	test.Type(e, "new-key")
	for _, apply := range re.entries {
		apply(h.cfg)
	}
	if stored != "new-key" {
		t.Errorf("the typed secret was not applied: %q", stored)
	}
}

func TestGalleryLoadsPagesAsItScrolls(t *testing.T) {
	quiet(t) // these records have no originals: every thumbnail logs a warning
	h := newHarness(t, harnessOpts{noStart: true})
	const n = 2*galleryPage + 15
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("%032x", i)
		err := h.cat.Put(context.Background(), &cloud.Record{ID: id, SHA256: id + id,
			Key: id + ".jpg", ContentType: "image/jpeg", CreatedAt: base.Add(
				time.Duration(i) * time.Second), Labels: []cloud.Label{}})
		if err != nil {
			t.Fatal(err)
		}
	}
	g := h.ui.gallery
	h.ui.ShowGallery()
	h.pump("the first page", func() bool { return len(g.recs) > 0 && !g.loading })
	// A page is asked for ahead of need, so what is on screen may already
	// have fetched a second one, but never everything.
	if len(g.recs) < galleryPage || len(g.recs) >= n {
		t.Fatalf("the first listing holds %d records, want pages of %d", len(g.recs),
			galleryPage)
	}
	if g.recs[0].ID != fmt.Sprintf("%032x", n-1) {
		t.Errorf("the first photo is %s, want the newest", g.recs[0].ID)
	}
	for len(g.recs) < n {
		before := len(g.recs)
		g.grid.ScrollToBottom()
		h.pump("another page", func() bool { return len(g.recs) > before && !g.loading })
	}
	if len(g.recs) != n || g.next != "" {
		t.Errorf("after scrolling: %d records, next page %q", len(g.recs), g.next)
	}
}

func TestMirror(t *testing.T) {
	img := imageRGBA(3, 1, []byte{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3})
	mirrorRGBA(img)
	if img.Pix[0] != 3 || img.Pix[4] != 2 || img.Pix[8] != 1 {
		t.Errorf("mirrored row = %v", img.Pix)
	}
}

// seed is a record to put straight into the catalogue, with a stored photo.
type seed struct {
	label string
	score float32
	c     color.RGBA
}

func seedRecords(t *testing.T, h *harness, seeds []seed) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i, s := range seeds {
		lab := seedLabeller{cloud.Label{Name: s.label, Score: s.score}}
		p := &pipeline.Pipeline{Store: h.store, Labeller: lab, Catalogue: h.cat,
			Now: func() time.Time { return base.Add(time.Duration(i) * time.Minute) }}
		if _, err := p.Process(ctx, pipeline.Input{Data: jpegOf(t, s.c),
			Name: fmt.Sprintf("%s-%d.jpg", s.label, i), Source: "import"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// seedLabeller gives every photo one label.
type seedLabeller struct{ label cloud.Label }

func (l seedLabeller) Label(context.Context, *cloud.Photo) ([]cloud.Label, error) {
	return []cloud.Label{l.label}, nil
}
func (seedLabeller) Name() string { return "seed" }
func (seedLabeller) Close() error { return nil }

func pendingFiles(t testing.TB, h *harness) []string {
	m, err := filepath.Glob(filepath.Join(h.dir, "pending", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
