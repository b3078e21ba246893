package pipeline_test

import (
	"bytes"
	"context"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/localstore"
	"github.com/multicloud/multicloud/cloud/pipeline"
	"github.com/multicloud/multicloud/cloud/roletest"
)

// A photo someone else put in the store is labelled and recorded where it
// lies: its key and URL are the ones given, nothing is written to the store.
func TestStoredPhotoIsRecordedWhereItLies(t *testing.T) {
	p, l := newPipeline(t)
	data := solidPNG(t, color.RGBA{0, 0, 200, 255})
	const key = "incoming/a b+c ☕.png"
	if _, err := p.Store.Put(context.Background(), key, bytes.NewReader(data),
		cloud.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	url := p.Store.URL(key)
	before := storeFiles(t, p)

	job, err := p.PrepareStored(pipeline.Input{Data: data, Name: "a b+c ☕.png",
		Source: "function"}, key, url)
	if err != nil {
		t.Fatal(err)
	}
	if !job.Stored || job.Key != key || job.URL != url {
		t.Fatalf("job stored=%v key %q url %q", job.Stored, job.Key, job.URL)
	}
	var events []string
	if err := p.RunStored(context.Background(), job, func(e pipeline.Event) {
		events = append(events, string(e.Step)+":"+string(e.State))
	}); err != nil {
		t.Fatal(err)
	}
	rec := job.Record
	if rec == nil || rec.Key != key || rec.URL != url || rec.Source != "function" ||
		rec.SHA256 != cloud.SHA256Hex(data) || len(rec.Labels) != 1 ||
		rec.Labels[0].Name != "blue" || job.Duplicate {
		t.Fatalf("record %+v duplicate=%v", rec, job.Duplicate)
	}
	if got := storeFiles(t, p); got != before {
		t.Errorf("the store changed from %d to %d files; nothing should be copied", before, got)
	}
	if events[0] != "store:skipped" {
		t.Errorf("events %v: the store step should be skipped", events)
	}

	// The same photo arriving again (under any key) is a duplicate: nothing
	// is labelled or written.
	again, err := p.PrepareStored(pipeline.Input{Data: data, Source: "function"},
		"elsewhere/copy.png", p.Store.URL("elsewhere/copy.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RunStored(context.Background(), again, nil); err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Record.Key != key || l.calls.Load() != 1 {
		t.Errorf("duplicate=%v key %q, labelled %d times", again.Duplicate,
			again.Record.Key, l.calls.Load())
	}
}

func TestPrepareStoredRefusesBadInput(t *testing.T) {
	p, _ := newPipeline(t)
	_, err := p.PrepareStored(pipeline.Input{Data: roletest.Photo(t, "truncated.jpg")},
		"x/truncated.jpg", "file:///x/truncated.jpg")
	if pipeline.StepOf(err) != pipeline.StepDecode || cloud.CodeOf(err) != cloud.InvalidArgument {
		t.Errorf("truncated: %v, want an InvalidArgument decode error", err)
	}
	_, err = p.PrepareStored(pipeline.Input{Data: solidPNG(t, color.White)}, "", "")
	if cloud.CodeOf(err) != cloud.InvalidArgument {
		t.Errorf("no key: %v, want InvalidArgument", err)
	}
}

func storeFiles(t *testing.T, p *pipeline.Pipeline) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(p.Store.(*localstore.Store).Dir(),
		func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
