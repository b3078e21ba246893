// Package photo turns the bytes of a photo into an image the rest of the
// program can use: it recognises the format, refuses what is not a photo or is
// too large to decode within the memory budget, and applies the EXIF
// orientation so that width, height, labels and thumbnails are the right way up.
package photo

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"strings"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/bmp" // what the Vision provider sends a local server
	_ "golang.org/x/image/webp"

	"github.com/multicloud/multicloud/cloud"
)

// DefaultMaxPixels bounds what Decode accepts when the caller gives no limit.
// 64 megapixels covers the sensors of today's phones and cameras at up to
// about 400 MiB of decoded pixels (with the copy that orientation needs);
// anything larger is refused with its size rather than risking the process.
const DefaultMaxPixels = 64_000_000

// Decoded is a photo ready for the pipeline.
type Decoded struct {
	Image       image.Image // oriented
	Format      string      // "jpeg", "png", "gif", "webp"
	ContentType string
	Width       int // after orientation
	Height      int
}

var contentTypes = map[string]string{
	"jpeg": "image/jpeg",
	"png":  "image/png",
	"gif":  "image/gif",
	"webp": "image/webp",
	"bmp":  "image/bmp",
}

// Extension is the file extension (with the dot) used for a content type.
func Extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	}
	return ".bin"
}

// Inspect reads only the header: format and stored size, without decoding
// pixels. It gives the same errors as Decode for empty, unknown and oversized
// input.
func Inspect(data []byte, maxPixels int) (format string, width, height int, err error) {
	const op = "decode"
	if len(data) == 0 {
		return "", 0, 0, cloud.Errorf(cloud.InvalidArgument, op, "the file is empty (0 bytes)")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return "", 0, 0, cloud.Errorf(cloud.InvalidArgument, op,
				"not a JPEG, PNG, GIF, WebP or BMP image")
		}
		return "", 0, 0, cloud.Errorf(cloud.InvalidArgument, op,
			"the image header is damaged (%v)", err)
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", 0, 0, cloud.Errorf(cloud.InvalidArgument, op,
			"the image says it is %d×%d pixels", cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > int64(maxPixels) {
		return "", 0, 0, cloud.Errorf(cloud.InvalidArgument, op,
			"the image is %d×%d (%.0f megapixels), larger than the %.0f megapixels "+
				"this app decodes", cfg.Width, cfg.Height, float64(px)/1e6,
			float64(maxPixels)/1e6)
	}
	return format, cfg.Width, cfg.Height, nil
}

// Decode decodes data, applying its EXIF orientation. Every error is a
// *cloud.Error with code InvalidArgument and a message a person can act on.
func Decode(data []byte, maxPixels int) (*Decoded, error) {
	format, _, _, err := Inspect(data, maxPixels)
	if err != nil {
		return nil, err
	}
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		msg := err.Error()
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "EOF") {
			msg = "the file is truncated (it ends before the image does)"
		} else {
			msg = "the image data is corrupt (" + msg + ")"
		}
		return nil, cloud.Errorf(cloud.InvalidArgument, "decode", "%s", msg)
	}
	b := img.Bounds()
	return &Decoded{
		Image:       img,
		Format:      format,
		ContentType: contentTypes[format],
		Width:       b.Dx(),
		Height:      b.Dy(),
	}, nil
}

// String describes d for logs.
func (d *Decoded) String() string {
	return fmt.Sprintf("%s %d×%d", d.Format, d.Width, d.Height)
}
