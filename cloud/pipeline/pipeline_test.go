package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/localstore"
	"github.com/multicloud/multicloud/cloud/pipeline"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

// colourLabeller names the dominant colour of the photo's centre. It stands
// in for a model so these tests check the pipeline's own logic; the real
// labellers have their own tests.
type colourLabeller struct{ calls atomic.Int32 }

func (l *colourLabeller) Label(ctx context.Context, p *cloud.Photo) ([]cloud.Label, error) {
	l.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := p.Image.Bounds()
	r, g, bl, _ := p.Image.At(b.Min.X+b.Dx()/2, b.Min.Y+b.Dy()/2).RGBA()
	name := "red"
	switch {
	case g > r && g > bl:
		name = "green"
	case bl > r && bl > g:
		name = "blue"
	}
	return []cloud.Label{{Name: name, Score: 0.9}}, nil
}
func (l *colourLabeller) Name() string { return "test:colour" }
func (l *colourLabeller) Close() error { return nil }

// flakyStore fails its first n puts the way a network store does.
type flakyStore struct {
	cloud.Store
	fails atomic.Int32
}

func (s *flakyStore) Put(ctx context.Context, key string, body io.ReadSeeker,
	o cloud.PutOptions) (cloud.Object, error) {
	if s.fails.Add(-1) >= 0 {
		return cloud.Object{}, cloud.Errorf(cloud.Unavailable, "test put", "503 Slow Down")
	}
	return s.Store.Put(ctx, key, body, o)
}

func newPipeline(t *testing.T) (*pipeline.Pipeline, *colourLabeller) {
	dir := t.TempDir()
	st, err := localstore.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlitecat.Open(filepath.Join(dir, "catalogue.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	l := &colourLabeller{}
	return &pipeline.Pipeline{Store: st, Labeller: l, Catalogue: cat,
		Now: func() time.Time { return time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) }}, l
}

func solidPNG(t *testing.T, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = 0
	}
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestProcessWritesRecord(t *testing.T) {
	p, _ := newPipeline(t)
	data := solidPNG(t, color.RGBA{0, 200, 0, 255})
	var events []string
	job, err := p.Process(context.Background(),
		pipeline.Input{Data: data, Name: "grün photo.png", Source: "import"},
		func(e pipeline.Event) { events = append(events, string(e.Step)+":"+string(e.State)) })
	if err != nil {
		t.Fatal(err)
	}
	rec := job.Record
	sha := cloud.SHA256Hex(data)
	if rec.ID != cloud.RecordID(sha) || rec.SHA256 != sha || rec.Bytes != int64(len(data)) ||
		rec.Width != 40 || rec.Height != 30 || rec.ContentType != "image/png" ||
		rec.Name != "grün photo.png" || rec.Source != "import" || rec.Labeller != "test:colour" {
		t.Errorf("record = %+v", rec)
	}
	if rec.Key != "2026/12/03/"+sha+".png" || !strings.HasPrefix(rec.URL, "file:///") {
		t.Errorf("key %q url %q", rec.Key, rec.URL)
	}
	if len(rec.Labels) != 1 || rec.Labels[0].Name != "green" {
		t.Errorf("labels = %v", rec.Labels)
	}
	got, err := p.Catalogue.Get(context.Background(), rec.ID)
	if err != nil || got.SHA256 != sha {
		t.Errorf("catalogue has %+v, %v", got, err)
	}
	rc, err := p.Store.Open(context.Background(), rec.Key)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(stored, data) {
		t.Error("stored bytes differ from the photo")
	}
	want := "decode:done store:running store:done label:running label:done " +
		"record:running record:done"
	if strings.Join(events, " ") != want {
		t.Errorf("events %v\nwant %s", events, want)
	}
}

func TestSamePhotoTwiceIsOneRecord(t *testing.T) {
	p, l := newPipeline(t)
	data := solidPNG(t, color.RGBA{200, 0, 0, 255})
	for range 2 {
		if _, err := p.Process(context.Background(), pipeline.Input{Data: data}, nil); err != nil {
			t.Fatal(err)
		}
	}
	page, _ := p.Catalogue.List(context.Background(), cloud.Query{})
	if len(page.Records) != 1 {
		t.Errorf("%d records after importing one photo twice", len(page.Records))
	}
	if l.calls.Load() != 1 {
		t.Errorf("labelled %d times; a duplicate must not be labelled again", l.calls.Load())
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	p, _ := newPipeline(t)
	truncated := roletest.Photo(t, "truncated.jpg")
	cases := map[string][]byte{
		"empty":     {},
		"text":      []byte("this is not a photo at all"),
		"truncated": truncated,
	}
	for name, data := range cases {
		_, err := p.Process(context.Background(), pipeline.Input{Data: data}, nil)
		if err == nil || pipeline.StepOf(err) != pipeline.StepDecode {
			t.Errorf("%s: err = %v, want a decode error", name, err)
		}
		if cloud.CodeOf(err) != cloud.InvalidArgument {
			t.Errorf("%s: code %v, want InvalidArgument", name, cloud.CodeOf(err))
		}
	}
	page, _ := p.Catalogue.List(context.Background(), cloud.Query{})
	if len(page.Records) != 0 {
		t.Errorf("bad input left %d records", len(page.Records))
	}
	entries, _ := os.ReadDir(p.Store.(*localstore.Store).Dir())
	if len(entries) != 0 {
		t.Errorf("bad input left files in the store: %v", entries)
	}
}

// A store that answers 503 fails the store step, records nothing, and the same
// job retried later completes without labelling twice or losing the photo.
func TestFailedStoreKeepsJobForRetry(t *testing.T) {
	p, l := newPipeline(t)
	fs := &flakyStore{Store: p.Store}
	fs.fails.Store(1)
	p.Store = fs
	data := solidPNG(t, color.RGBA{0, 0, 200, 255})
	job, err := p.Process(context.Background(), pipeline.Input{Data: data}, nil)
	if pipeline.StepOf(err) != pipeline.StepStore || !cloud.Retryable(err) {
		t.Fatalf("err = %v, want a retryable store failure", err)
	}
	if _, gerr := p.Catalogue.Get(context.Background(), job.ID); !cloud.IsNotFound(gerr) {
		t.Errorf("a record was written though the photo is not stored: %v", gerr)
	}
	if err := p.Run(context.Background(), job, nil); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !job.Done() || job.Record.Labels[0].Name != "blue" || l.calls.Load() != 1 {
		t.Errorf("after retry job done=%v labels=%v calls=%d", job.Done(), job.Labels,
			l.calls.Load())
	}
}

// A job saved as JSON after the store step resumes with labelling, as after a
// crash, and does not store again.
func TestResumeFromJSON(t *testing.T) {
	p, _ := newPipeline(t)
	data := solidPNG(t, color.RGBA{0, 220, 0, 255})
	job, err := p.Prepare(pipeline.Input{Data: data, Source: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	broken := &flakyStore{Store: p.Store}
	p2 := *p
	p2.Labeller = failingLabeller{}
	if err := p2.Run(context.Background(), job, nil); pipeline.StepOf(err) != pipeline.StepLabel {
		t.Fatalf("err = %v, want label failure", err)
	}
	saved, _ := json.Marshal(job)

	var resumed pipeline.Job
	if err := json.Unmarshal(saved, &resumed); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Attach([]byte("other bytes")); err == nil {
		t.Error("Attach accepted bytes that are not the job's photo")
	}
	if err := resumed.Attach(data); err != nil {
		t.Fatal(err)
	}
	broken.fails.Store(100) // storing again would fail: it must not happen
	p.Store = broken
	var skipped []pipeline.Step
	err = p.Run(context.Background(), &resumed, func(e pipeline.Event) {
		if e.State == pipeline.StateSkipped {
			skipped = append(skipped, e.Step)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0] != pipeline.StepStore {
		t.Errorf("skipped %v, want only the store step", skipped)
	}
	if resumed.Record.Labels[0].Name != "green" {
		t.Errorf("labels %v", resumed.Record.Labels)
	}
}

type failingLabeller struct{}

func (failingLabeller) Label(context.Context, *cloud.Photo) ([]cloud.Label, error) {
	return nil, cloud.Wrap(cloud.Unavailable, "test label", errors.New("model busy"))
}
func (failingLabeller) Name() string { return "test:failing" }
func (failingLabeller) Close() error { return nil }

func TestDeleteRemovesRecordAndPhoto(t *testing.T) {
	p, _ := newPipeline(t)
	job, err := p.Process(context.Background(),
		pipeline.Input{Data: solidPNG(t, color.RGBA{1, 2, 200, 255})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.Stat(context.Background(), job.Key); !cloud.IsNotFound(err) {
		t.Errorf("photo still stored: %v", err)
	}
	if _, err := p.Catalogue.Get(context.Background(), job.ID); !cloud.IsNotFound(err) {
		t.Errorf("record still there: %v", err)
	}
}

// coarseCatalogue keeps times to the second, as some databases do.
type coarseCatalogue struct{ cloud.Catalogue }

func (c coarseCatalogue) Put(ctx context.Context, r *cloud.Record) error {
	cp := *r
	cp.CreatedAt = cp.CreatedAt.Truncate(time.Second)
	return c.Catalogue.Put(ctx, &cp)
}

// The record a job ends with is the one the catalogue holds, read back, not
// the one the pipeline meant to write.
func TestRecordIsReadBack(t *testing.T) {
	p, _ := newPipeline(t)
	p.Catalogue = coarseCatalogue{p.Catalogue}
	p.Now = func() time.Time { return time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.UTC) }
	job, err := p.Process(context.Background(),
		pipeline.Input{Data: solidPNG(t, color.RGBA{9, 9, 200, 255})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC); !job.Record.CreatedAt.Equal(want) {
		t.Errorf("record time %v, want the catalogue's %v", job.Record.CreatedAt, want)
	}
}
