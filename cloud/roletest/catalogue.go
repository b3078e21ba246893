package roletest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/multicloud/multicloud/cloud"
)

// CatalogueOptions tune the catalogue suite.
type CatalogueOptions struct {
	// Records is how many records the paging tests write; 0 means 23.
	Records int
}

// MakeRecord builds a plausible record whose content hash is derived from n,
// created n minutes after a fixed time, with the given labels.
func MakeRecord(n int, labels ...cloud.Label) *cloud.Record {
	sha := cloud.SHA256Hex([]byte(fmt.Sprintf("photo %d", n)))
	return &cloud.Record{
		ID:          cloud.RecordID(sha),
		SHA256:      sha,
		URL:         "file:///photos/" + sha + ".jpg",
		Key:         "2026/01/01/" + sha + ".jpg",
		ContentType: "image/jpeg",
		Bytes:       int64(1000 + n),
		Width:       640,
		Height:      480,
		Name:        fmt.Sprintf("photo %d – été.jpg", n),
		CreatedAt:   time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute),
		Labels:      labels,
		Labeller:    "test",
		Source:      "import",
	}
}

// RunCatalogue runs the catalogue conformance suite. open returns a fresh,
// empty catalogue for each subtest; the suite closes it.
func RunCatalogue(t *testing.T, open func(t *testing.T) cloud.Catalogue, opts CatalogueOptions) {
	if opts.Records == 0 {
		opts.Records = 23
	}
	ctx := context.Background()
	with := func(name string, f func(t *testing.T, c cloud.Catalogue)) {
		t.Run(name, func(t *testing.T) {
			c := open(t)
			defer c.Close()
			f(t, c)
		})
	}
	put := func(t *testing.T, c cloud.Catalogue, recs ...*cloud.Record) {
		t.Helper()
		for _, r := range recs {
			if err := c.Put(ctx, r); err != nil {
				t.Fatalf("Put %s: %v", r.ID, err)
			}
		}
	}

	with("PutGet", func(t *testing.T, c cloud.Catalogue) {
		want := MakeRecord(1,
			cloud.Label{Name: "cup", Score: 0.9, Box: &cloud.Box{X: 0.1, Y: 0.2, W: 0.3, H: 0.4}},
			cloud.Label{Name: "coffee", Score: 0.8, MID: "/m/02vqfm", Topicality: 0.8})
		want.Owner = "someone@example.com"
		put(t, c, want)
		got, err := c.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !sameRecord(got, want) {
			t.Errorf("Get returned\n%+v\nwant\n%+v", got, want)
		}
	})

	with("GetMissing", func(t *testing.T, c cloud.Catalogue) {
		if _, err := c.Get(ctx, "0123456789abcdef0123456789abcdef"); !cloud.IsNotFound(err) {
			t.Errorf("Get of a missing id: %v, want NotFound", err)
		}
	})

	with("PutIsIdempotent", func(t *testing.T, c cloud.Catalogue) {
		r := MakeRecord(1, cloud.Label{Name: "cat", Score: 0.9})
		put(t, c, r, r)
		page, err := c.List(ctx, cloud.Query{})
		if err != nil || len(page.Records) != 1 {
			t.Fatalf("after putting one record twice List = %d records, %v; want 1",
				len(page.Records), err)
		}
		// Replacing the labels replaces what a search finds.
		r2 := *r
		r2.Labels = []cloud.Label{{Name: "dog", Score: 0.7}}
		put(t, c, &r2)
		if ids := search(t, c, "cat", 0); len(ids) != 0 {
			t.Errorf("search cat after relabelling found %v, want none", ids)
		}
		if ids := search(t, c, "dog", 0); len(ids) != 1 {
			t.Errorf("search dog after relabelling found %v, want one", ids)
		}
	})

	with("ListNewestFirstPaged", func(t *testing.T, c cloud.Catalogue) {
		// Written out of order: the catalogue, not the caller, sorts.
		var want []string
		for i := opts.Records - 1; i >= 0; i-- {
			want = append(want, MakeRecord(i).ID)
		}
		for i := 0; i < opts.Records; i += 2 {
			put(t, c, MakeRecord(i))
		}
		for i := 1; i < opts.Records; i += 2 {
			put(t, c, MakeRecord(i))
		}
		got := listAll(t, c, cloud.Query{Limit: 5})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("paged listing\n got %v\nwant %v", got, want)
		}
	})

	with("SameTimeStillPagesExactlyOnce", func(t *testing.T, c cloud.Catalogue) {
		seen := map[string]bool{}
		for i := range 9 {
			r := MakeRecord(i)
			r.CreatedAt = time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
			put(t, c, r)
		}
		for _, id := range listAll(t, c, cloud.Query{Limit: 2}) {
			if seen[id] {
				t.Errorf("%s listed twice", id)
			}
			seen[id] = true
		}
		if len(seen) != 9 {
			t.Errorf("listed %d distinct records, want 9", len(seen))
		}
	})

	with("SearchByLabel", func(t *testing.T, c cloud.Catalogue) {
		var wantCup []string
		for i := range opts.Records {
			labels := []cloud.Label{{Name: "table", Score: 0.5}}
			if i%3 == 0 {
				labels = append(labels, cloud.Label{Name: "cup", Score: 0.3 + float32(i%2)*0.6})
			}
			put(t, c, MakeRecord(i, labels...))
		}
		for i := opts.Records - 1; i >= 0; i-- {
			if i%3 == 0 {
				wantCup = append(wantCup, MakeRecord(i).ID)
			}
		}
		if got := listAll(t, c, cloud.Query{Label: "cup", Limit: 2}); !reflect.DeepEqual(got, wantCup) {
			t.Errorf("search cup\n got %v\nwant %v", got, wantCup)
		}
		// The query is normalised the same way labels are.
		if got := listAll(t, c, cloud.Query{Label: "  CUP ", Limit: 50}); len(got) != len(wantCup) {
			t.Errorf("search \"  CUP \" found %d, want %d", len(got), len(wantCup))
		}
		var wantSure []string
		for i := opts.Records - 1; i >= 0; i-- {
			if i%3 == 0 && i%2 == 1 {
				wantSure = append(wantSure, MakeRecord(i).ID)
			}
		}
		got := listAll(t, c, cloud.Query{Label: "cup", MinScore: 0.8, Limit: 3})
		if !reflect.DeepEqual(got, wantSure) {
			t.Errorf("search cup ≥ 0.8\n got %v\nwant %v", got, wantSure)
		}
		if got := search(t, c, "giraffe", 0); len(got) != 0 {
			t.Errorf("search for a label no record has found %v", got)
		}
	})

	with("Labels", func(t *testing.T, c cloud.Catalogue) {
		put(t, c,
			MakeRecord(1, cloud.Label{Name: "cat", Score: 0.9}, cloud.Label{Name: "sofa", Score: 0.5}),
			MakeRecord(2, cloud.Label{Name: "cat", Score: 0.8}),
			MakeRecord(3, cloud.Label{Name: "dog", Score: 0.7}))
		got, err := c.Labels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0] != (cloud.LabelCount{Name: "cat", Count: 2}) {
			t.Errorf("Labels = %v, want cat×2 first, then dog and sofa", got)
		}
	})

	with("Delete", func(t *testing.T, c cloud.Catalogue) {
		r := MakeRecord(1, cloud.Label{Name: "horse", Score: 0.9})
		put(t, c, r, MakeRecord(2, cloud.Label{Name: "horse", Score: 0.9}))
		if err := c.Delete(ctx, r.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := c.Get(ctx, r.ID); !cloud.IsNotFound(err) {
			t.Errorf("Get after Delete: %v, want NotFound", err)
		}
		if ids := search(t, c, "horse", 0); len(ids) != 1 || ids[0] == r.ID {
			t.Errorf("search after Delete found %v, want only the other record", ids)
		}
		if err := c.Delete(ctx, r.ID); err != nil {
			t.Errorf("deleting what is already gone must succeed, got %v", err)
		}
	})

	with("BadPageToken", func(t *testing.T, c cloud.Catalogue) {
		_, err := c.List(ctx, cloud.Query{PageToken: "not a token!"})
		if cloud.CodeOf(err) != cloud.InvalidArgument {
			t.Errorf("List with a garbage token: %v, want InvalidArgument", err)
		}
	})

	with("ConcurrentPuts", func(t *testing.T, c cloud.Catalogue) {
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.Put(ctx, MakeRecord(i, cloud.Label{Name: "bird", Score: 0.5}))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if ids := search(t, c, "bird", 0); len(ids) != 10 {
			t.Errorf("after 10 concurrent puts search found %d", len(ids))
		}
	})
}

func search(t *testing.T, c cloud.Catalogue, label string, min float32) []string {
	t.Helper()
	return listAll(t, c, cloud.Query{Label: label, MinScore: min, Limit: 100})
}

func listAll(t *testing.T, c cloud.Catalogue, q cloud.Query) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, err := c.List(context.Background(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if q.Limit > 0 && len(page.Records) > q.Limit {
			t.Fatalf("page of %d records for a limit of %d", len(page.Records), q.Limit)
		}
		for _, r := range page.Records {
			ids = append(ids, r.ID)
		}
		if page.NextPageToken == "" {
			return ids
		}
		q.PageToken = page.NextPageToken
	}
	t.Fatal("listing never ended")
	return nil
}

// sameRecord compares records field by field, times by instant (a catalogue
// may give back another location or drop monotonic readings).
func sameRecord(a, b *cloud.Record) bool {
	x, y := *a, *b
	if !x.CreatedAt.Equal(y.CreatedAt) {
		return false
	}
	x.CreatedAt, y.CreatedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}
