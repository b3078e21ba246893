package sqlitecat_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

func open(t testing.TB, path string) *sqlitecat.Catalogue {
	c, err := sqlitecat.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	roletest.RunCatalogue(t, func(t *testing.T) cloud.Catalogue {
		return open(t, filepath.Join(t.TempDir(), "catalogue.db"))
	}, roletest.CatalogueOptions{})
}

// Records survive closing and reopening the file: the catalogue is the
// person's history, not a cache.
func TestPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "catalogue.db")
	c := open(t, path)
	r := roletest.MakeRecord(7, cloud.Label{Name: "cat", Score: 0.9})
	if err := c.Put(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = open(t, path)
	defer c.Close()
	page, err := c.List(context.Background(), cloud.Query{Label: "cat"})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != r.ID {
		t.Fatalf("after reopening, search cat = %v, %v", page.Records, err)
	}
}
