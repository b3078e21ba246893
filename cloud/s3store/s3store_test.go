package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/s3store"
	"github.com/multicloud/multicloud/internal/emulator"
	"github.com/multicloud/multicloud/internal/localclouds"
)

// s3rver accepts only this access key.
var s3rverCreds = credentials.NewStaticCredentialsProvider(localclouds.S3Key, localclouds.S3Key, "")

// startS3rver runs the npm s3rver as its own process on loopback and returns
// its endpoint.
func startS3rver(tb testing.TB) string {
	if _, err := emulator.NodeBinPath("s3rver"); err != nil {
		emulator.Missing(tb, err.Error())
	}
	srv, err := localclouds.S3rver(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Stop)
	return "http://" + srv.Addr
}

// startGofakes3 runs gofakes3 in this process behind a real loopback listener.
// wrap, if given, sits in front of it (to script faults).
func startGofakes3(tb testing.TB, wrap func(http.Handler) http.Handler,
	opts ...gofakes3.Option) string {
	h := gofakes3.New(s3mem.New(), opts...).Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}

var bucketSeq atomic.Int32

func open(tb testing.TB, endpoint string, creds aws.CredentialsProvider) *s3store.Store {
	tb.Helper()
	s, err := s3store.Open(context.Background(), s3store.Options{
		Bucket:       fmt.Sprintf("photos-%d-%s", bucketSeq.Add(1), randHex(tb)),
		Region:       "us-east-1",
		Endpoint:     endpoint,
		PathStyle:    true,
		CreateBucket: true,
		Credentials:  creds,
		Prefix:       "multicloud",
	})
	if err != nil {
		tb.Fatalf("open S3 store at %s: %v", endpoint, err)
	}
	return s
}

func randHex(tb testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var anyCreds = credentials.NewStaticCredentialsProvider("test-key-id", "test-secret", "")

func TestConformanceGofakes3(t *testing.T) {
	endpoint := startGofakes3(t, nil)
	roletest.RunStore(t, func(t *testing.T) cloud.Store {
		return open(t, endpoint, anyCreds)
	}, roletest.StoreOptions{LargeSize: 50 << 20, URLPrefix: "s3://"})
}

func TestConformanceS3rver(t *testing.T) {
	endpoint := startS3rver(t)
	roletest.RunStore(t, func(t *testing.T) cloud.Store {
		return open(t, endpoint, s3rverCreds)
	}, roletest.StoreOptions{LargeSize: 50 << 20, URLPrefix: "s3://"})
}

// A 503 SlowDown on the first upload is retried by the SDK with the whole
// photo sent again, and what is stored is the photo, byte for byte.
func TestSlowDownIsRetriedWithTheWholeBody(t *testing.T) {
	var puts atomic.Int32
	endpoint := startGofakes3(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, ".jpg") &&
				puts.Add(1) == 1 {
				io.Copy(io.Discard, io.LimitReader(r.Body, 100)) // read a little, as a proxy might
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error>`+
					`<Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	s := open(t, endpoint, anyCreds)
	data := roletest.Photo(t, "rocket.jpg")
	if _, err := s.Put(context.Background(), "a/rocket.jpg", bytes.NewReader(data),
		cloud.PutOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatalf("Put after one SlowDown: %v", err)
	}
	if puts.Load() < 2 {
		t.Fatalf("the upload was sent %d times; the 503 was not retried", puts.Load())
	}
	rc, err := s.Open(context.Background(), "a/rocket.jpg")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, want the %d of the photo", len(got), len(data))
	}
}

// A server that keeps answering 503 ends in a retryable error, not a hang.
func TestPersistentSlowDownIsRetryable(t *testing.T) {
	endpoint := startGofakes3(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, ".jpg") {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `<Error><Code>SlowDown</Code><Message>x</Message></Error>`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	s := open(t, endpoint, anyCreds)
	_, err := s.Put(context.Background(), "x.jpg", strings.NewReader("abc"), cloud.PutOptions{})
	if err == nil || !cloud.Retryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}

// A computer whose clock is far off gets a message that says so.
func TestClockSkewSaysCheckTheClock(t *testing.T) {
	// The server's clock is two hours behind this computer's: it checks
	// signatures against its own time and says its time in the Date header.
	serverNow := time.Now().Add(-2 * time.Hour)
	endpoint := startGofakes3(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", serverNow.UTC().Format(http.TimeFormat))
			next.ServeHTTP(w, r)
		})
	}, gofakes3.WithTimeSource(gofakes3.FixedTimeSource(serverNow)),
		gofakes3.WithTimeSkewLimit(15*time.Minute))
	_, err := s3store.Open(context.Background(), s3store.Options{Bucket: "b", Endpoint: endpoint,
		PathStyle: true, CreateBucket: true, Credentials: anyCreds, Region: "us-east-1",
		MaxAttempts: 1})
	if err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("err = %v, want a message about the clock", err)
	}
	if cloud.CodeOf(err) != cloud.FailedPrecondition {
		t.Errorf("code %v, want FailedPrecondition", cloud.CodeOf(err))
	}
}

func TestMissingBucketWithoutCreate(t *testing.T) {
	endpoint := startGofakes3(t, nil)
	_, err := s3store.Open(context.Background(), s3store.Options{Bucket: "nope",
		Endpoint: endpoint, PathStyle: true, Credentials: anyCreds, Region: "us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "create_bucket") {
		t.Fatalf("err = %v, want advice to create the bucket", err)
	}
}

func TestWrongCredentialsSayWhatToCheck(t *testing.T) {
	endpoint := startS3rver(t)
	_, err := s3store.Open(context.Background(), s3store.Options{Bucket: "b", Endpoint: endpoint,
		PathStyle: true, CreateBucket: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("WRONG", "WRONG", "")})
	if cloud.CodeOf(err) != cloud.PermissionDenied || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("err = %v (code %v), want PermissionDenied naming the credentials", err,
			cloud.CodeOf(err))
	}
	if strings.Contains(err.Error(), "WRONG") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// The record's URL is stable and unsigned; viewing uses a presigned URL that
// a plain HTTP client can fetch.
func TestPresignedURLFetchesThePhoto(t *testing.T) {
	endpoint := startS3rver(t)
	s := open(t, endpoint, s3rverCreds)
	data := roletest.Photo(t, "coffee.png")
	key := "2026/12/03/a cup ☕+%.png"
	if _, err := s.Put(context.Background(), key, bytes.NewReader(data),
		cloud.PutOptions{ContentType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	if u := s.URL(key); strings.Contains(u, "X-Amz") || !strings.HasPrefix(u, "s3://") {
		t.Errorf("stable URL %q", u)
	}
	signed, err := s.Presign(context.Background(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(signed, "X-Amz-Signature") {
		t.Errorf("presigned URL %q has no signature", signed)
	}
	resp, err := http.Get(signed)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("GET presigned: %d, %d bytes; want 200 and the photo", resp.StatusCode, len(got))
	}
	if web := s.WebURL(key); !strings.HasPrefix(web, endpoint) {
		t.Errorf("WebURL %q is not on the endpoint", web)
	} else if u, err := url.Parse(web); err != nil || !strings.HasSuffix(u.Path, "a cup ☕+%.png") {
		t.Errorf("WebURL %q does not decode to the key (%v)", web, err)
	}
}

// awsCLI runs the AWS CLI against a local endpoint with s3rver's credentials.
func awsCLI(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		emulator.Missing(t, "the AWS CLI is not installed (Debian package awscli; make deps)")
	}
	cmd := exec.Command(bin, append([]string{"--endpoint-url", endpoint, "s3"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		// The CLI's own checksum trailers would meet the same server quirk.
		"AWS_REQUEST_CHECKSUM_CALCULATION=when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION=when_required")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws s3 %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// What the app stores the AWS CLI reads, and what the CLI uploads the app
// reads: the keys and bytes mean the same to both.
func TestInteroperatesWithAWSCLI(t *testing.T) {
	endpoint := startS3rver(t)
	s := open(t, endpoint, s3rverCreds)
	dir := t.TempDir()
	data := roletest.Photo(t, "astronaut.png")
	key := "with space/ünïcode+plus.png"
	if _, err := s.Put(context.Background(), key, bytes.NewReader(data),
		cloud.PutOptions{ContentType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "from-app.png")
	awsCLI(t, endpoint, "cp", s.URL(key), out)
	if got, _ := os.ReadFile(out); cloud.SHA256Hex(got) != cloud.SHA256Hex(data) {
		t.Errorf("the AWS CLI read %d bytes that differ from the %d stored", len(got), len(data))
	}

	src := filepath.Join(roletest.PhotosDir(t), "chelsea.png")
	awsCLI(t, endpoint, "cp", src, s.URL("from cli/chelsea ü.png"))
	rc, err := s.Open(context.Background(), "from cli/chelsea ü.png")
	if err != nil {
		t.Fatalf("the app cannot read what the AWS CLI uploaded: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	want, _ := os.ReadFile(src)
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want the %d the CLI uploaded", len(got), len(want))
	}
}
