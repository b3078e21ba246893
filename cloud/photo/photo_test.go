package photo_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
	"github.com/multicloud/multicloud/cloud/roletest"
)

func TestDecodesEveryTestPhoto(t *testing.T) {
	dir := roletest.PhotosDir(t)
	want := map[string][2]int{
		"astronaut.png": {512, 512}, "coffee.png": {600, 400}, "rocket.jpg": {640, 427},
		"horse.png": {400, 328}, "palette_color.png": {10, 10},
	}
	for name, wh := range want {
		data, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := photo.Decode(data, 0)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.Width != wh[0] || d.Height != wh[1] {
			t.Errorf("%s decoded as %d×%d, want %d×%d", name, d.Width, d.Height, wh[0], wh[1])
		}
	}
}

func TestBadInputSaysWhy(t *testing.T) {
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "empty"},
		"text":      {[]byte("hello, I am a text file named .jpg"), "not a JPEG, PNG, GIF, WebP or BMP"},
		"truncated": {roletest.Photo(t, "truncated.jpg"), "truncated"},
	}
	for name, c := range cases {
		_, err := photo.Decode(c.data, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, c.want)
		}
		if cloud.CodeOf(err) != cloud.InvalidArgument {
			t.Errorf("%s: code %v, want InvalidArgument", name, cloud.CodeOf(err))
		}
	}
}

// A 12000×12000 image is refused from its header, with its size, before any
// pixel memory is allocated.
func TestHugeImageRefusedWithinBudget(t *testing.T) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, image.NewGray(image.Rect(0, 0, 12000, 12000))); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := photo.Decode(data, 0)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "12000×12000") {
		t.Fatalf("err = %v, want a refusal naming the size", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("refusing the image allocated %d MiB", grew>>20)
	}
}

// JPEG photos from phones are stored sideways with an EXIF orientation tag;
// the decoded image must be upright.
func TestAppliesEXIFOrientation(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for x := 0; x < 20; x++ { // left half red, right half blue
		for y := 0; y < 20; y++ {
			img.Set(x, y, color.RGBA{255, 0, 0, 255})
			img.Set(x+20, y, color.RGBA{0, 0, 255, 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	data := withOrientation(enc.Bytes(), 6) // rotate 90° clockwise to display
	d, err := photo.Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Width != 20 || d.Height != 40 {
		t.Fatalf("oriented size %d×%d, want 20×40", d.Width, d.Height)
	}
	// After a clockwise turn the left (red) half is on top.
	r, _, b, _ := d.Image.At(10, 5).RGBA()
	if r < b {
		t.Errorf("top of the turned image is not red (r=%d b=%d)", r>>8, b>>8)
	}
}

// withOrientation inserts a minimal EXIF APP1 segment after the JPEG's SOI.
func withOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, binary.BigEndian, uint32(8)) // first IFD offset
	binary.Write(&tiff, binary.BigEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.BigEndian, uint16(0x0112))
	binary.Write(&tiff, binary.BigEndian, uint16(3)) // SHORT
	binary.Write(&tiff, binary.BigEndian, uint32(1)) // count
	binary.Write(&tiff, binary.BigEndian, o)
	binary.Write(&tiff, binary.BigEndian, uint16(0)) // padding
	binary.Write(&tiff, binary.BigEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}
