package gvision

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"sort"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"

	"github.com/multicloud/multicloud/cloud"
)

const (
	// MaxEdge is the longest side of the image that is sent. Vision's labels
	// and boxes gain nothing from more (Google suggests far less), and it
	// keeps a request a few hundred KiB instead of many MiB.
	MaxEdge = 1600
	// maxOriginalBytes is the largest original file sent as it is; larger
	// ones are re-encoded. Well under the API's 10 MiB request limit and the
	// 4 MiB that gRPC servers accept by default.
	maxOriginalBytes = 4 << 20
	// maxRawBytes bounds the pixels sent uncompressed to a server on this
	// machine (about 1 megapixel), under that same 4 MiB.
	maxRawBytes = 3 << 20
	jpegQuality = 85
)

// body is the image as sent, with the size it has there: face boxes come
// back in its pixels.
type body struct {
	data []byte
	w, h int
}

// prepare picks what to send for p.
//
// To a server on this machine (local) an image up to maxRawBytes goes as an
// uncompressed BMP (a format the Vision API takes): there bytes cost nothing,
// but the processor is shared with the model, and inflating a compressed PNG
// takes the server several times longer than writing and reading raw pixels
// (14 against about 2 ms for a 600×400 photo), which would be a tenth of the
// model's time. BMP rather than an uncompressed PNG, whose checksums and
// filter bytes still cost both sides a millisecond or more.
//
// Otherwise the original bytes are sent when they show exactly p.Image (same
// size, no EXIF rotation that p.Image already applied) and are small enough:
// that costs nothing and loses nothing. Failing that, p.Image is scaled to
// MaxEdge if larger, laid on white (JPEG has no transparency) and encoded as
// JPEG.
func prepare(p *cloud.Photo, local bool) (body, error) {
	b := p.Image.Bounds()
	w, h := b.Dx(), b.Dy()
	if local && max(w, h) <= MaxEdge && w*h*3 <= maxRawBytes {
		img := p.Image
		switch img.(type) {
		case *image.RGBA, *image.NRGBA, *image.Gray, *image.Paletted:
			// the BMP encoder writes these row by row
		default:
			// Others (a JPEG's YCbCr) it would read pixel by pixel through
			// interface calls; draw converts them in one fast pass.
			rgba := image.NewRGBA(image.Rect(0, 0, w, h))
			draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
			img = rgba
		}
		var buf bytes.Buffer
		buf.Grow(w*h*4 + 1024)
		if err := bmp.Encode(&buf, img); err != nil {
			return body{}, err
		}
		return body{data: buf.Bytes(), w: w, h: h}, nil
	}
	if sendAsIs(p.Data, w, h) {
		return body{data: p.Data, w: w, h: h}, nil
	}

	dw, dh := w, h
	if long := max(w, h); long > MaxEdge {
		dw = max(1, int(int64(w)*MaxEdge/int64(long)))
		dh = max(1, int(int64(h)*MaxEdge/int64(long)))
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	if dw == w && dh == h {
		draw.Draw(dst, dst.Bounds(), p.Image, b.Min, draw.Over)
	} else {
		// BiLinear widens its kernel when shrinking, so a large photo is
		// averaged rather than sampled; CatmullRom looks no better to a
		// labeller and costs twice as much.
		draw.BiLinear.Scale(dst, dst.Bounds(), p.Image, b, draw.Over, nil)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return body{}, err
	}
	return body{data: buf.Bytes(), w: dw, h: dh}, nil
}

// sendAsIs reports whether data, the original file, can be sent for an
// oriented image of w×h.
func sendAsIs(data []byte, w, h int) bool {
	if len(data) == 0 || len(data) > maxOriginalBytes || max(w, h) > MaxEdge {
		return false
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != w || cfg.Height != h {
		return false
	}
	switch format {
	case "png", "gif", "webp":
		// The pipeline applies EXIF orientation to JPEGs only.
		return true
	case "jpeg":
		return jpegOrientation(data) <= 1
	}
	return false
}

// jpegOrientation is the EXIF orientation (1–8) of a JPEG, or 0 when it has
// none that can be read; the pipeline's decoder then applies none either.
func jpegOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 0
		}
		marker := b[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // image data: no metadata after it
			return 0
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 0
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 0
}

// tiffOrientation reads tag 0x0112 of the first IFD of an EXIF TIFF block.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for k := range n {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			return int(bo.Uint16(t[e+8:]))
		}
	}
	return 0
}

// labelsOf turns one image's annotations into labels (not yet merged).
// An object that is also a label lends the label its box, so that "cup"
// keeps both Vision's label score, mid and topicality and where the cup is.
func labelsOf(r *visionpb.AnnotateImageResponse, sent body) []cloud.Label {
	var out []cloud.Label
	byName := map[string]int{}
	for _, a := range r.GetLabelAnnotations() {
		n := cloud.NormalizeLabel(a.GetDescription())
		if _, dup := byName[n]; !dup {
			byName[n] = len(out)
		}
		out = append(out, cloud.Label{Name: a.GetDescription(), Score: unit(a.GetScore()),
			MID: a.GetMid(), Topicality: unit(a.GetTopicality())})
	}

	objects := r.GetLocalizedObjectAnnotations()
	sort.SliceStable(objects, func(i, j int) bool {
		return objects[i].GetScore() > objects[j].GetScore()
	})
	for _, o := range objects {
		box := normalizedBox(o.GetBoundingPoly().GetNormalizedVertices())
		if i, ok := byName[cloud.NormalizeLabel(o.GetName())]; ok {
			if out[i].Box == nil {
				out[i].Box = box
				out[i].Score = max(out[i].Score, unit(o.GetScore()))
			}
			continue
		}
		out = append(out, cloud.Label{Name: o.GetName(), Score: unit(o.GetScore()),
			MID: o.GetMid(), Box: box})
	}

	for _, f := range r.GetFaceAnnotations() {
		out = append(out, cloud.Label{Name: faceLabel, Score: unit(f.GetDetectionConfidence()),
			Box: pixelBox(f.GetBoundingPoly().GetVertices(), sent.w, sent.h)})
	}
	return out
}

func unit(v float32) float32 { return min(max(v, 0), 1) }

// normalizedBox is the rectangle around vertices given in 0..1.
func normalizedBox(vs []*visionpb.NormalizedVertex) *cloud.Box {
	if len(vs) == 0 {
		return nil
	}
	x1, y1, x2, y2 := float32(1), float32(1), float32(0), float32(0)
	for _, v := range vs {
		x, y := unit(v.GetX()), unit(v.GetY())
		x1, y1, x2, y2 = min(x1, x), min(y1, y), max(x2, x), max(y2, y)
	}
	if x2 < x1 || y2 < y1 {
		return nil
	}
	return &cloud.Box{X: x1, Y: y1, W: x2 - x1, H: y2 - y1}
}

// pixelBox is the rectangle around vertices given in pixels of a w×h image
// (faces come back that way), relative to the image.
func pixelBox(vs []*visionpb.Vertex, w, h int) *cloud.Box {
	if len(vs) == 0 || w <= 0 || h <= 0 {
		return nil
	}
	n := make([]*visionpb.NormalizedVertex, len(vs))
	for i, v := range vs {
		n[i] = &visionpb.NormalizedVertex{X: float32(v.GetX()) / float32(w),
			Y: float32(v.GetY()) / float32(h)}
	}
	return normalizedBox(n)
}
