package roletest

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
)

// LabellerExpectations maps a shared test photograph to a label the labeller
// must find in it. These are things any general-purpose labeller names.
var LabellerExpectations = map[string]string{
	"astronaut.png": "person",
	"coffee.png":    "cup",
	"horse.png":     "horse",
	"chelsea.png":   "cat",
}

// LoadPhoto decodes a shared test photograph the way the pipeline does.
func LoadPhoto(t testing.TB, name string) *cloud.Photo {
	t.Helper()
	data := Photo(t, name)
	d, err := photo.Decode(data, 0)
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return &cloud.Photo{Data: data, ContentType: d.ContentType, Image: d.Image}
}

// RunLabeller runs the labeller conformance suite against l.
func RunLabeller(t *testing.T, l cloud.Labeller) {
	ctx := context.Background()
	if l.Name() == "" {
		t.Error("Name is empty; records need to say which labeller labelled them")
	}
	for file, want := range LabellerExpectations {
		t.Run(file, func(t *testing.T) {
			labels, err := l.Label(ctx, LoadPhoto(t, file))
			if err != nil {
				t.Fatalf("Label: %v", err)
			}
			checkLabels(t, labels)
			var names []string
			for _, lb := range labels {
				names = append(names, lb.Name)
			}
			if !contains(names, want) {
				t.Errorf("labels of %s are %v; want %q among them", file, names, want)
			}
		})
	}

	t.Run("Blank", func(t *testing.T) {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		labels, err := l.Label(ctx, encodeForTest(t, img))
		if err != nil {
			t.Fatalf("a blank photo must give no labels, not an error: %v", err)
		}
		checkLabels(t, labels)
		for _, lb := range labels {
			if lb.Score > 0.6 {
				t.Errorf("a blank white photo was labelled %q with %.2f", lb.Name, lb.Score)
			}
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Label(cctx, LoadPhoto(t, "coffee.png")); err == nil {
			t.Error("Label with a cancelled context succeeded")
		}
	})
}

func checkLabels(t *testing.T, labels []cloud.Label) {
	t.Helper()
	for i, lb := range labels {
		if lb.Name != cloud.NormalizeLabel(lb.Name) || lb.Name == "" {
			t.Errorf("label %q is not normalised", lb.Name)
		}
		if lb.Score < 0 || lb.Score > 1 {
			t.Errorf("label %q has score %v outside [0, 1]", lb.Name, lb.Score)
		}
		if i > 0 && lb.Score > labels[i-1].Score {
			t.Errorf("labels not sorted best first: %v", labels)
		}
		if b := lb.Box; b != nil {
			if b.X < 0 || b.Y < 0 || b.W < 0 || b.H < 0 || b.X+b.W > 1.001 || b.Y+b.H > 1.001 {
				t.Errorf("label %q has a box outside the image: %+v", lb.Name, *b)
			}
		}
	}
}

func contains(names []string, want string) bool {
	for _, n := range names {
		if strings.EqualFold(n, want) {
			return true
		}
	}
	return false
}

// encodeForTest wraps a generated image as a PNG photo.
func encodeForTest(t *testing.T, img image.Image) *cloud.Photo {
	t.Helper()
	var buf strings.Builder
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return &cloud.Photo{Data: []byte(buf.String()), ContentType: "image/png", Image: img}
}
