package gvision

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/multicloud/multicloud/cloud"
)

func encoded(t *testing.T, img image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func grey(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Gray{Y: 100}), image.Point{}, draw.Src)
	return img
}

func sentSize(t *testing.T, b body) (string, int, int) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b.data))
	if err != nil {
		t.Fatalf("what would be sent does not decode: %v", err)
	}
	if cfg.Width != b.w || cfg.Height != b.h {
		t.Errorf("body says %d×%d, data is %d×%d", b.w, b.h, cfg.Width, cfg.Height)
	}
	return format, cfg.Width, cfg.Height
}

// To Google, an original that shows exactly the decoded photo goes as it is.
func TestPrepareSendsOriginals(t *testing.T) {
	for _, format := range []string{"png", "jpeg"} {
		img := grey(120, 80)
		p := &cloud.Photo{Data: encoded(t, img, format), Image: img}
		b, err := prepare(p, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.data, p.Data) || b.w != 120 || b.h != 80 {
			t.Errorf("%s: the original was not sent as it is", format)
		}
	}
}

// A JPEG that the pipeline rotated (EXIF orientation) is re-encoded from the
// rotated image, so that face boxes are relative to the photo as recorded.
func TestPrepareRotatedJPEG(t *testing.T) {
	data := withOrientation(encoded(t, grey(80, 40), "jpeg"), 6)
	if o := jpegOrientation(data); o != 6 {
		t.Fatalf("orientation %d, want 6", o)
	}
	b, err := prepare(&cloud.Photo{Data: data, Image: grey(40, 80)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if f, w, h := sentSize(t, b); f != "jpeg" || w != 40 || h != 80 {
		t.Errorf("sent %s %d×%d; want the rotated photo, 40×80", f, w, h)
	}
	if jpegOrientation(b.data) != 0 {
		t.Error("the re-encoded JPEG still carries an orientation")
	}
	little := withOrientationLE(encoded(t, grey(8, 8), "jpeg"), 3)
	if o := jpegOrientation(little); o != 3 {
		t.Errorf("little-endian EXIF: orientation %d, want 3", o)
	}
	for _, junk := range [][]byte{nil, {0xFF, 0xD8}, {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF},
		[]byte("not a jpeg")} {
		if o := jpegOrientation(junk); o != 0 {
			t.Errorf("orientation %d of % x", o, junk)
		}
	}
}

func TestPrepareLarge(t *testing.T) {
	// Over MaxEdge: scaled, as a JPEG, whatever the endpoint.
	for _, local := range []bool{false, true} {
		img := grey(2000, 3000)
		b, err := prepare(&cloud.Photo{Data: encoded(t, img, "png"), Image: img}, local)
		if err != nil {
			t.Fatal(err)
		}
		if f, w, h := sentSize(t, b); f != "jpeg" || w != 1066 || h != MaxEdge {
			t.Errorf("local %v: sent %s %d×%d; want a 1066×1600 JPEG", local, f, w, h)
		}
	}
	// Too many pixels to send uncompressed even on loopback: the original.
	img := grey(1600, 1000)
	p := &cloud.Photo{Data: encoded(t, img, "png"), Image: img}
	b, err := prepare(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.data, p.Data) {
		t.Errorf("a 1600×1000 PNG to loopback was not sent as it is")
	}
}

// Transparent pixels are laid on white before JPEG, which has no alpha.
func TestPrepareTransparentOnWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2000, 100)) // all transparent
	b, err := prepare(&cloud.Photo{Data: encoded(t, img, "png"), Image: img}, false)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := jpeg.Decode(bytes.NewReader(b.data))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, bl, _ := dec.At(10, 10).RGBA(); r < 0xF000 || g < 0xF000 || bl < 0xF000 {
		t.Errorf("transparent became %v, want white", dec.At(10, 10))
	}
}

// withOrientation inserts an EXIF block with the given orientation after the
// JPEG's start marker, big-endian as many cameras write it.
func withOrientation(jpg []byte, o uint16) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, // header, first IFD at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, byte(o >> 8), byte(o), 0, 0, // orientation SHORT
		0, 0, 0, 0} // no next IFD
	return withEXIF(jpg, tiff)
}

// withOrientationLE is the same in little-endian order, after another tag.
func withOrientationLE(jpg []byte, o uint16) []byte {
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0,
		2, 0,
		0x0F, 0x01, 2, 0, 4, 0, 0, 0, 'A', 'c', 'm', 0, // Make "Acm"
		0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), byte(o >> 8), 0, 0,
		0, 0, 0, 0}
	return withEXIF(jpg, tiff)
}

func withEXIF(jpg, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	n := len(seg) + 2
	app1 := append([]byte{0xFF, 0xE1, byte(n >> 8), byte(n)}, seg...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	return append(out, jpg[2:]...)
}
