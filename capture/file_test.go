package capture

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	photodec "github.com/multicloud/multicloud/cloud/photo"
)

// photosDir holds real photos and truncated.jpg, a JPEG cut off on purpose.
const photosDir = "../../shared/photos"

// lockedBuffer collects log output written from the producer goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestFileSourceCyclesThroughPhotos(t *testing.T) {
	want := map[string]bool{}
	entries, err := os.ReadDir(photosDir)
	if err != nil {
		t.Skipf("no test photos: %v", err)
	}
	for _, e := range entries {
		if photodec.IsPhotoName(e.Name()) && e.Name() != "truncated.jpg" {
			want[e.Name()] = true
		}
	}
	var logs lockedBuffer
	src, err := openFiles(photosDir, Options{}, fileConfig{
		interval: 60 * time.Millisecond, fps: 100,
		log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if info := src.Info(); info.Width != 640 || info.Height != 480 {
		t.Fatalf("Info() = %+v, want 640x480", info)
	}

	ctx := testContext(t)
	seen := map[string]bool{}
	var order []string // photo names in the order shown, without repeats in a row
	rounds := 0
	var dst *image.RGBA
	for rounds < 2 {
		if dst, err = src.ReadFrame(ctx, dst); err != nil {
			t.Fatalf("after %v: %v", order, err)
		}
		if dst.Rect != image.Rect(0, 0, 640, 480) {
			t.Fatalf("frame %v, want 640x480", dst.Rect)
		}
		shot, err := src.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(order) > 0 && order[len(order)-1] == shot.Name {
			continue
		}
		order = append(order, shot.Name)
		if shot.Name == order[0] && len(order) > 1 {
			rounds++
		}
		if seen[shot.Name] {
			continue
		}
		seen[shot.Name] = true
		file, err := os.ReadFile(filepath.Join(photosDir, shot.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(shot.Data, file) {
			t.Errorf("%s: Snapshot bytes differ from the file", shot.Name)
		}
		wantType := "image/png"
		if strings.HasSuffix(shot.Name, ".jpg") {
			wantType = "image/jpeg"
		}
		if shot.ContentType != wantType || shot.Image == nil {
			t.Errorf("%s: content type %q, image %v", shot.Name, shot.ContentType,
				shot.Image != nil)
		}
	}
	if seen["truncated.jpg"] {
		t.Error("truncated.jpg was shown")
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s was never shown (shown: %v)", name, order)
		}
	}
	// Two rounds went by, but the broken file is reported once.
	if n := strings.Count(logs.String(), "truncated.jpg"); n != 1 {
		t.Errorf("truncated.jpg logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestFileSourceFramesAreOpaqueAndFitted(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(photosDir, "horse.png")) // 400x328, transparent
	if err != nil {
		t.Skipf("no test photos: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "horse.png"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open("file:"+dir, Options{Width: 800, Height: 400})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	img, err := src.ReadFrame(testContext(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect != image.Rect(0, 0, 800, 400) {
		t.Fatalf("frame %v, want 800x400", img.Rect)
	}
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 0xff {
			t.Fatal("frame has transparent pixels")
		}
	}
	// 400x328 fitted into 800x400 is 487x400, centred: black bars left and right.
	if c := img.RGBAAt(10, 200); c.R|c.G|c.B != 0 {
		t.Errorf("left bar is %v, want black", c)
	}
}

func TestFileSourceErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	data, err := os.ReadFile(filepath.Join(photosDir, "truncated.jpg"))
	if err != nil {
		t.Skipf("no test photos: %v", err)
	}
	if err := os.WriteFile(filepath.Join(broken, "a.jpg"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec, want string
	}{
		{"file:" + empty, "has no photos to show"},
		{"file:" + broken, "none of the 1 photos"},
		{"file:" + filepath.Join(empty, "missing"), "cannot read the photo folder"},
		{"file:", "no photo folder given"},
	}
	for _, tc := range tests {
		src, err := Open(tc.spec, Options{})
		if err == nil {
			src.Close()
			t.Errorf("Open(%q) succeeded", tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): %q, want it to say %q", tc.spec, err, tc.want)
		}
	}
	var pathErr *os.PathError
	if _, err := Open("file:"+filepath.Join(empty, "missing"), Options{}); !errors.As(err,
		&pathErr) {
		t.Errorf("missing folder: %v does not wrap the *os.PathError", err)
	}
}

func TestFileSourceReadsWebPAndGIF(t *testing.T) {
	dir := t.TempDir()
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	var gifData bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.Black, color.White})
	if err := gif.Encode(&gifData, pal, nil); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"a.webp": webp, "b.GIF": gifData.Bytes()}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := openFiles(dir, Options{}, fileConfig{interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := testContext(t)
	want := map[string]string{"a.webp": "image/webp", "b.GIF": "image/gif"}
	for len(want) > 0 {
		if _, err := src.ReadFrame(ctx, nil); err != nil {
			t.Fatalf("still waiting for %v: %v", want, err)
		}
		shot, err := src.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ct, ok := want[shot.Name]; ok {
			if shot.ContentType != ct || !bytes.Equal(shot.Data, files[shot.Name]) {
				t.Errorf("%s: content type %q, same bytes %v", shot.Name, shot.ContentType,
					bytes.Equal(shot.Data, files[shot.Name]))
			}
			delete(want, shot.Name)
		}
	}
}
