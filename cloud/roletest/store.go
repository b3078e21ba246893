package roletest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/multicloud/multicloud/cloud"
)

// StoreOptions tune the store suite to what a provider is expected to handle.
type StoreOptions struct {
	// LargeSize is the size of the large-object round trip; 0 means 8 MiB.
	// Cloud providers pass 50 MiB to exercise multipart uploads.
	LargeSize int
	// URLPrefix, when set, is what every URL must start with ("s3://bucket/").
	URLPrefix string
}

// RunStore runs the store conformance suite. open returns a fresh, empty
// store for each subtest; the suite closes it.
func RunStore(t *testing.T, open func(t *testing.T) cloud.Store, opts StoreOptions) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 8 << 20
	}
	ctx := context.Background()
	with := func(name string, f func(t *testing.T, s cloud.Store)) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			f(t, s)
		})
	}

	with("RoundTrip", func(t *testing.T, s cloud.Store) {
		data := []byte("the bytes of a photo")
		obj, err := s.Put(ctx, "2026/01/02/abc.jpg", bytes.NewReader(data),
			cloud.PutOptions{ContentType: "image/jpeg", SHA256: cloud.SHA256Hex(data)})
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if obj.Size != int64(len(data)) || obj.Key != "2026/01/02/abc.jpg" {
			t.Errorf("Put returned %+v, want key 2026/01/02/abc.jpg and size %d", obj, len(data))
		}
		if got := readAll(t, s, obj.Key); !bytes.Equal(got, data) {
			t.Errorf("read back %q, want %q", got, data)
		}
		st, err := s.Stat(ctx, obj.Key)
		if err != nil || st.Size != int64(len(data)) {
			t.Errorf("Stat = %+v, %v; want size %d", st, err, len(data))
		}
	})

	with("AllTestPhotos", func(t *testing.T, s cloud.Store) {
		entries, err := os.ReadDir(PhotosDir(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(PhotosDir(t), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			key := "photos/" + e.Name()
			if _, err := s.Put(ctx, key, bytes.NewReader(data), cloud.PutOptions{}); err != nil {
				t.Fatalf("Put %s: %v", key, err)
			}
			if cloud.SHA256Hex(readAll(t, s, key)) != cloud.SHA256Hex(data) {
				t.Errorf("%s did not round-trip byte for byte", e.Name())
			}
		}
	})

	with("AwkwardKeys", func(t *testing.T, s cloud.Store) {
		keys := []string{
			"with space/a photo.jpg",
			"unicode/café 日本語 ünï.png",
			"plus+and%percent/a+b%20c%2F.jpg",
			"odd/quote'\"<>|*?:#&=;,.jpg",
			"emoji/📷.webp",
		}
		for i, k := range keys {
			data := []byte(strings.Repeat(string(rune('a'+i)), 10+i))
			if _, err := s.Put(ctx, k, bytes.NewReader(data), cloud.PutOptions{}); err != nil {
				t.Fatalf("Put %q: %v", k, err)
			}
		}
		for i, k := range keys {
			want := strings.Repeat(string(rune('a'+i)), 10+i)
			if got := string(readAll(t, s, k)); got != want {
				t.Errorf("key %q read back %q, want %q", k, got, want)
			}
			if u := s.URL(k); u == "" || (opts.URLPrefix != "" && !strings.HasPrefix(u, opts.URLPrefix)) {
				t.Errorf("URL(%q) = %q, want prefix %q", k, u, opts.URLPrefix)
			}
		}
	})

	with("Overwrite", func(t *testing.T, s cloud.Store) {
		for _, v := range []string{"first version, longer", "second"} {
			if _, err := s.Put(ctx, "k.jpg", strings.NewReader(v), cloud.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(readAll(t, s, "k.jpg")); got != "second" {
			t.Errorf("after overwrite read %q, want %q", got, "second")
		}
	})

	with("Missing", func(t *testing.T, s cloud.Store) {
		if _, err := s.Open(ctx, "no/such/key.jpg"); !cloud.IsNotFound(err) {
			t.Errorf("Open of a missing key: %v, want a NotFound error", err)
		}
		if _, err := s.Stat(ctx, "no/such/key.jpg"); !cloud.IsNotFound(err) {
			t.Errorf("Stat of a missing key: %v, want a NotFound error", err)
		}
	})

	with("Delete", func(t *testing.T, s cloud.Store) {
		if _, err := s.Put(ctx, "d.jpg", strings.NewReader("x"), cloud.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "d.jpg"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Stat(ctx, "d.jpg"); !cloud.IsNotFound(err) {
			t.Errorf("Stat after Delete: %v, want NotFound", err)
		}
		if err := s.Delete(ctx, "d.jpg"); err != nil {
			t.Errorf("deleting what is already gone must succeed, got %v", err)
		}
	})

	with("URLIsStable", func(t *testing.T, s cloud.Store) {
		u1, u2 := s.URL("a/b c.jpg"), s.URL("a/b c.jpg")
		if u1 == "" || u1 != u2 {
			t.Errorf("URL not stable: %q then %q", u1, u2)
		}
		for _, secret := range []string{"Signature", "X-Amz-", "sig=", "token"} {
			if strings.Contains(u1, secret) {
				t.Errorf("URL %q carries what looks like a credential (%s)", u1, secret)
			}
		}
	})

	with("Large", func(t *testing.T, s cloud.Store) {
		data := make([]byte, opts.LargeSize)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		sum := cloud.SHA256Hex(data)
		obj, err := s.Put(ctx, "large.bin", bytes.NewReader(data),
			cloud.PutOptions{ContentType: "application/octet-stream", SHA256: sum})
		if err != nil {
			t.Fatalf("Put %d bytes: %v", len(data), err)
		}
		if obj.Size != int64(len(data)) {
			t.Errorf("size %d, want %d", obj.Size, len(data))
		}
		if got := cloud.SHA256Hex(readAll(t, s, "large.bin")); got != sum {
			t.Errorf("large object did not round-trip: sha256 %s, want %s", got, sum)
		}
	})

	with("Concurrent", func(t *testing.T, s cloud.Store) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := bytes.Repeat([]byte{byte(i)}, 1000+i)
				_, err := s.Put(ctx, "c/"+string(rune('a'+i)), bytes.NewReader(data),
					cloud.PutOptions{})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		for i := range 8 {
			if got := readAll(t, s, "c/"+string(rune('a'+i))); len(got) != 1000+i {
				t.Errorf("object %d has %d bytes, want %d", i, len(got), 1000+i)
			}
		}
	})

	with("CancelledContext", func(t *testing.T, s cloud.Store) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Put(cctx, "cancelled.jpg", strings.NewReader("x"), cloud.PutOptions{})
		if err == nil {
			t.Error("Put with a cancelled context succeeded")
		}
	})
}

func readAll(t *testing.T, s cloud.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open %q: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b
}
