package cosmoscat_test

// The Cosmos figures are against cosmosdb-server on loopback: they measure
// this package and the SDK plus a single-threaded JavaScript server that
// closes the connection after every answer (so each request pays a TLS
// handshake) and scans every item for each query. They say nothing about
// Azure's latency; they do show what the catalogue adds per call and catch
// a change that multiplies requests.

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/cosmoscat"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

func BenchmarkCosmosPut(b *testing.B) {
	s := startCosmos(b)
	c := s.open(b, cosmoscat.Options{})
	defer c.Close()
	benchPut(b, c)
}

func BenchmarkSQLitePut(b *testing.B) {
	benchPut(b, openSQLite(b))
}

func BenchmarkCosmosSearch10k(b *testing.B) {
	s := startCosmos(b)
	c := s.open(b, cosmoscat.Options{Timeout: time.Minute})
	defer c.Close()
	benchSearch(b, c, seed(b, c, 10_000, 8))
}

func BenchmarkSQLiteSearch10k(b *testing.B) {
	c := openSQLite(b)
	benchSearch(b, c, seed(b, c, 10_000, 1))
}

func openSQLite(b *testing.B) cloud.Catalogue {
	c, err := sqlitecat.Open(filepath.Join(b.TempDir(), "catalogue.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// vocabulary is what the seeded records are labelled with; each record gets
// three names, so a name is on about one record in thirteen.
var vocabulary = []string{
	"cup", "table", "person", "cat", "dog", "car", "bicycle", "chair", "sofa", "plant",
	"book", "clock", "vase", "laptop", "phone", "bottle", "bowl", "banana", "apple", "pizza",
	"tree", "sky", "cloud", "road", "building", "window", "door", "bird", "horse", "boat",
	"bench", "umbrella", "bag", "tie", "kite", "ball", "cake", "bed", "tv", "oven",
}

func seededRecord(i int) *cloud.Record {
	labels := make([]cloud.Label, 3)
	for j := range labels {
		labels[j] = cloud.Label{
			Name:  vocabulary[(i*7+j*13)%len(vocabulary)],
			Score: float32((i*31+j*17)%100) / 100,
		}
	}
	return roletest.MakeRecord(i, labels...)
}

func benchPut(b *testing.B, c cloud.Catalogue) {
	ctx := context.Background()
	n := 0
	for b.Loop() {
		if err := c.Put(ctx, seededRecord(n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// seed writes n records with the given number of writers and says how long
// it took.
func seed(b *testing.B, c cloud.Catalogue, n, writers int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				if err := c.Put(ctx, seededRecord(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("seeding: %v", err)
	}
	d := time.Since(start)
	b.Logf("seeded %d records with %d writers in %v (%.0f records/s)", n, writers,
		d.Round(time.Millisecond), float64(n)/d.Seconds())
	return d
}

// benchSearch times the first page of a label search, the gallery's query.
// The seeding time is reported beside it (b.Loop would discard a metric
// reported before the loop).
func benchSearch(b *testing.B, c cloud.Catalogue, seeding time.Duration) {
	ctx := context.Background()
	q := cloud.Query{Label: "cup", MinScore: 0.5, Limit: cloud.DefaultPageSize}
	for b.Loop() {
		page, err := c.List(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Records) != q.Limit {
			b.Fatalf("search found %d records, want a full page of %d", len(page.Records), q.Limit)
		}
	}
	b.ReportMetric(seeding.Seconds(), "seed-s")
}
