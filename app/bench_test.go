package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/multicloud/multicloud/capture"
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

// quiet silences logging for a test or benchmark: a log line between a benchmark's
// name and its figures would hide them from the tools that read them (the
// records made here have no originals, so every thumbnail logs a warning).
func quiet(b testing.TB) {
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(prev) })
}

// BenchmarkPreview feeds a 640×480 synthetic source at its 30 fps into the
// real preview widget, the benchmark's goroutine acting as the UI goroutine,
// and reports the frames shown per second and the CPU seconds used per
// second of wall time (1 = one core busy). One op is one frame shown.
func BenchmarkPreview(b *testing.B) {
	quiet(b)
	test.NewTempApp(b)
	src, err := capture.Open("synthetic", capture.Options{Width: 640, Height: 480})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	q := newUIQueue()
	p := newPreview(q.do, func(err error) { b.Error(err) })
	w := fyne.CurrentApp().NewWindow("preview")
	w.SetContent(p.img)
	w.Resize(fyne.NewSize(800, 600))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.run(ctx, src)
	defer p.halt()
	for p.frames.Load() == 0 { // the first frame and its buffers
		q.run()
		time.Sleep(time.Millisecond)
	}

	b.ResetTimer()
	start, cpu0, n0 := time.Now(), cpuSeconds(b), p.frames.Load()
	for p.frames.Load()-n0 < uint64(b.N) {
		if !q.run() {
			<-q.wake
		}
	}
	wall, cpu := time.Since(start).Seconds(), cpuSeconds(b)-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/wall, "fps")
	b.ReportMetric(cpu/wall, "cpu-s/s")
}

var (
	bigCatalogue     string
	bigCatalogueOnce sync.Once
	benchDir         string
)

// TestMain removes the catalogue the benchmarks share across their runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// tenThousand makes a SQLite catalogue of 10,000 records once per run.
func tenThousand(b *testing.B) string {
	bigCatalogueOnce.Do(func() {
		dir, err := os.MkdirTemp("", "multicloud-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		path := filepath.Join(dir, "catalogue.db")
		cat, err := sqlitecat.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer cat.Close()
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		names := []string{"cup", "cat", "dog", "person", "car", "bottle", "chair"}
		for i := range 10_000 {
			id := fmt.Sprintf("%032x", i)
			rec := &cloud.Record{ID: id, SHA256: id + id, Key: "2025/" + id + ".jpg",
				URL: "file:///photos/2025/" + id + ".jpg", ContentType: "image/jpeg",
				Bytes: 100_000, Width: 640, Height: 480, Source: "import",
				CreatedAt: base.Add(time.Duration(i) * time.Minute),
				Labels: []cloud.Label{{Name: names[i%len(names)], Score: 0.5 + float32(i%50)/100},
					{Name: names[(i+3)%len(names)], Score: 0.4}},
				Labeller: "bench"}
			if err := cat.Put(context.Background(), rec); err != nil {
				b.Fatal(err)
			}
		}
		bigCatalogue = path
	})
	if bigCatalogue == "" {
		b.Fatal("no catalogue")
	}
	return bigCatalogue
}

// BenchmarkGalleryFirstPage times opening the gallery on a catalogue of
// 10,000 records until its first page is in the grid (thumbnails arrive
// later, off the UI goroutine, and are not part of it).
func BenchmarkGalleryFirstPage(b *testing.B) {
	quiet(b)
	path := tenThousand(b)
	h := newHarness(b, harnessOpts{noStart: true})
	cat, err := sqlitecat.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	h.pl.Catalogue = cat
	g := h.ui.gallery

	b.ResetTimer()
	for range b.N {
		g.reload()
		h.pump("the first page", func() bool { return !g.loading && len(g.recs) > 0 })
		if len(g.recs) != galleryPage || g.grid.Length() != galleryPage {
			b.Fatalf("first page has %d records", len(g.recs))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
}
