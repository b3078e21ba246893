// Package roletest holds the conformance suites of the three roles. Every
// provider, local or cloud, runs the suite of its role from its own tests, so
// that the pipeline can rely on the same behaviour whichever one is configured.
//
// The suites only use the role interfaces: what they check is what the
// pipeline and the window rely on.
package roletest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// PhotosDir finds the shared folder of test photographs (shared/photos beside
// the repository), or skips the test when it is not there.
func PhotosDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("MULTICLOUD_TEST_PHOTOS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// cloud/roletest/roletest.go → repository root → ../shared/photos
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	d := filepath.Join(root, "..", "shared", "photos")
	if _, err := os.Stat(filepath.Join(d, "coffee.png")); err != nil {
		t.Skipf("test photographs not found at %s (set MULTICLOUD_TEST_PHOTOS)", d)
	}
	return d
}

// Photo reads one of the shared test photographs.
func Photo(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(PhotosDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
