package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/internal/emulator"
)

var uploadSizes = []struct {
	name string
	size int
}{{"1MiB", 1 << 20}, {"50MiB", 50 << 20}}

// BenchmarkS3Upload is the store's upload throughput to s3rver on loopback;
// BenchmarkAWSCLIUpload is `aws s3 cp` of the same file to the same server in
// the same run. `make bench` prints their ratio (goal: ≥ 1).
func BenchmarkS3Upload(b *testing.B) {
	endpoint := startS3rver(b)
	s := open(b, endpoint, s3rverCreds)
	for _, sz := range uploadSizes {
		data := randomBytes(b, sz.size)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.size))
			for i := range b.N {
				if _, err := s.Put(context.Background(), fmt.Sprintf("bench/%s-%d", sz.name, i),
					bytes.NewReader(data), cloud.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAWSCLIUpload(b *testing.B) {
	bin, err := exec.LookPath("aws")
	if err != nil {
		emulator.Missing(b, "the AWS CLI is not installed")
	}
	endpoint := startS3rver(b)
	s := open(b, endpoint, s3rverCreds) // creates the bucket
	for _, sz := range uploadSizes {
		file := filepath.Join(b.TempDir(), "upload.bin")
		if err := os.WriteFile(file, randomBytes(b, sz.size), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.size))
			for i := range b.N {
				cmd := exec.Command(bin, "--endpoint-url", endpoint, "s3", "cp", "--quiet", file,
					s.URL(fmt.Sprintf("cli/%s-%d", sz.name, i)))
				cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=S3RVER",
					"AWS_SECRET_ACCESS_KEY=S3RVER", "AWS_DEFAULT_REGION=us-east-1",
					"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
					"AWS_EC2_METADATA_DISABLED=true",
					"AWS_REQUEST_CHECKSUM_CALCULATION=when_required")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("aws s3 cp: %v\n%s", err, out)
				}
			}
		})
	}
}

func randomBytes(tb testing.TB, n int) []byte {
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		tb.Fatal(err)
	}
	return data
}
