package ondevice

import (
	"image"
	"os"
	"path/filepath"

	pigo "github.com/esimov/pigo/core"

	"github.com/multicloud/multicloud/cloud"
)

// FaceCascadeFile is pigo's face detection cascade inside the model folder.
// It ships in the github.com/esimov/pigo module (MIT); `make assets` copies
// it from the module cache, since go:embed cannot reach into another module.
const FaceCascadeFile = "facefinder"

// Face detection runs on the grey version of the detector's own 512×512
// input, so the photo is resampled once for both. In that space a face must
// be at least faceMinSize pixels across: 4% of the photo's longer side.
const (
	faceMinSize = 20
	// faceIoU merges pigo's overlapping hits into one face (pigo's examples
	// use 0.2).
	faceIoU = 0.2
	// faceQ is the cluster quality at which a face scores 0.5. pigo's
	// quality is an unbounded sum over the merged hits; q/(q+faceQ) maps it
	// into [0, 1) so that the labeller's threshold applies to faces too.
	// With the default threshold 0.35 a face needs q ≥ 10.8. On the shared
	// photos the astronaut's face has q = 72 (score 0.78) and the strongest
	// false hit, on coins.png, q = 5.1 (0.20).
	faceQ = 20
)

type faceFinder struct {
	cascade *pigo.Pigo
	gray    []uint8
}

func openFaceFinder(dir string) (*faceFinder, error) {
	path := filepath.Join(dir, FaceCascadeFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, missing("face cascade", path)
	}
	c, err := pigo.NewPigo().Unpack(b)
	if err != nil {
		return nil, cloud.Errorf(cloud.FailedPrecondition, "ondevice open",
			"face cascade %s is damaged (%v); run `make assets` again", path, err)
	}
	return &faceFinder{cascade: c}, nil
}

// find looks for faces in the content part of the model input (NCHW RGB
// planes of size×size) and returns them with boxes relative to the photo.
func (f *faceFinder) find(planes []float32, size int, content image.Rectangle) []cloud.Label {
	w, h := content.Dx(), content.Dy()
	if min(w, h) < faceMinSize {
		return nil
	}
	if cap(f.gray) < w*h {
		f.gray = make([]uint8, w*h)
	}
	gray := f.gray[:w*h]
	n := size * size
	for y := range h {
		o := (content.Min.Y+y)*size + content.Min.X
		r, g, b := planes[o:o+w], planes[n+o:n+o+w], planes[2*n+o:2*n+o+w]
		row := gray[y*w : y*w+w]
		for x := range row {
			row[x] = uint8(0.299*r[x] + 0.587*g[x] + 0.114*b[x] + 0.5)
		}
	}
	dets := f.cascade.RunCascade(pigo.CascadeParams{
		MinSize:     faceMinSize,
		MaxSize:     min(w, h),
		ShiftFactor: 0.1,
		ScaleFactor: 1.1,
		ImageParams: pigo.ImageParams{Pixels: gray, Rows: h, Cols: w, Dim: w},
	}, 0)
	dets = f.cascade.ClusterDetections(dets, faceIoU)
	var labels []cloud.Label
	for _, d := range dets {
		if d.Q <= 0 {
			continue
		}
		s := float32(d.Scale)
		x0 := min(max((float32(d.Col)-s/2)/float32(w), 0), 1)
		y0 := min(max((float32(d.Row)-s/2)/float32(h), 0), 1)
		x1 := min(max((float32(d.Col)+s/2)/float32(w), 0), 1)
		y1 := min(max((float32(d.Row)+s/2)/float32(h), 0), 1)
		labels = append(labels, cloud.Label{
			Name:  "face",
			Score: d.Q / (d.Q + faceQ),
			Box:   &cloud.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0},
		})
	}
	return labels
}
