package localstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/localstore"
	"github.com/multicloud/multicloud/cloud/roletest"
)

func TestConformance(t *testing.T) {
	roletest.RunStore(t, func(t *testing.T) cloud.Store {
		s, err := localstore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, roletest.StoreOptions{URLPrefix: "file:///"})
}

// A key cannot climb out of the store's folder.
func TestKeysStayInside(t *testing.T) {
	dir := t.TempDir()
	s, err := localstore.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"../escape.jpg", "a/../../escape.jpg", "/abs.jpg", "", "a//b"} {
		_, err := s.Put(context.Background(), k, strings.NewReader("x"), cloud.PutOptions{})
		if cloud.CodeOf(err) != cloud.InvalidArgument {
			t.Errorf("Put(%q) = %v, want InvalidArgument", k, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.jpg")); err == nil {
		t.Error("a key wrote outside the store folder")
	}
}

// A write whose bytes do not match the digest the caller gave leaves nothing.
func TestDigestMismatchLeavesNothing(t *testing.T) {
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), "x.jpg", strings.NewReader("abc"),
		cloud.PutOptions{SHA256: cloud.SHA256Hex([]byte("abd"))})
	if err == nil {
		t.Fatal("Put accepted bytes that do not match their digest")
	}
	if _, err := s.Stat(context.Background(), "x.jpg"); !cloud.IsNotFound(err) {
		t.Errorf("after a failed Put the key exists: %v", err)
	}
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 0 {
		t.Errorf("a failed Put left files behind: %v", entries)
	}
}
