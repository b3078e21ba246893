package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/multicloud/multicloud/cli"
	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/cloud/roletest"
)

// requireModel skips a test that needs the on-device model when `make assets`
// has not been run, except in CI, where a missing model is a failure: CI runs
// `make test`, which makes the assets first.
func requireModel(tb testing.TB) {
	tb.Helper()
	if ondevice.FindModelDir() != "" {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("the on-device model is missing; `make test` should have run `make assets`")
	}
	tb.Skip("the on-device model is missing; run `make assets`")
}

// BenchmarkImportFolder is a person importing the shared photo folder from
// the command line into an empty library: model loading, decoding, storing,
// labelling and recording. It reports photos per second.
func BenchmarkImportFolder(b *testing.B) {
	requireModel(b)
	photos := roletest.PhotosDir(b)
	files, _ := filepath.Glob(filepath.Join(photos, "*.png"))
	jpgs, _ := filepath.Glob(filepath.Join(photos, "rocket.jpg"))
	files = append(files, jpgs...)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		data := b.TempDir()
		b.StartTimer()
		if code := cli.Main(append([]string{"--data", data, "--config",
			emptySettings(b, data), "import"}, files...), quietEnv()); code != 0 {
			b.Fatalf("import exited %d", code)
		}
	}
	b.ReportMetric(float64(len(files)*b.N)/b.Elapsed().Seconds(), "photos/s")
}
