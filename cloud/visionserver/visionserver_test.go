package visionserver_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/visionserver"
)

// fake is a labeller that answers with fixed labels and remembers the size
// of what it was shown.
type fake struct {
	labels []cloud.Label
	err    error
	mu     sync.Mutex
	seen   []image.Rectangle
}

func (f *fake) Label(ctx context.Context, p *cloud.Photo) ([]cloud.Label, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.seen = append(f.seen, p.Image.Bounds())
	f.mu.Unlock()
	return f.labels, f.err
}

func (f *fake) Name() string { return "fake" }
func (f *fake) Close() error { return nil }

// start serves New(l, opts) on a real loopback listener and returns a
// Vision client of Google's generated API talking to it.
func start(t *testing.T, l cloud.Labeller, opts visionserver.Options) visionpb.
	ImageAnnotatorClient {
	t.Helper()
	lis, err := visionserver.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- visionserver.Serve(ctx, lis, visionserver.New(l, opts)) }()
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return visionpb.NewImageAnnotatorClient(conn)
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func request(content []byte, features ...visionpb.Feature_Type) *visionpb.AnnotateImageRequest {
	r := &visionpb.AnnotateImageRequest{Image: &visionpb.Image{Content: content}}
	for _, f := range features {
		r.Features = append(r.Features, &visionpb.Feature{Type: f})
	}
	return r
}

func annotate(t *testing.T, c visionpb.ImageAnnotatorClient,
	reqs ...*visionpb.AnnotateImageRequest) []*visionpb.AnnotateImageResponse {
	t.Helper()
	resp, err := c.BatchAnnotateImages(context.Background(),
		&visionpb.BatchAnnotateImagesRequest{Requests: reqs})
	if err != nil {
		t.Fatalf("BatchAnnotateImages: %v", err)
	}
	if len(resp.GetResponses()) != len(reqs) {
		t.Fatalf("%d responses for %d images", len(resp.GetResponses()), len(reqs))
	}
	return resp.GetResponses()
}

func wantImageError(t *testing.T, r *visionpb.AnnotateImageResponse, c codes.Code,
	says string) {
	t.Helper()
	e := r.GetError()
	if e == nil || codes.Code(e.GetCode()) != c || !strings.Contains(e.GetMessage(), says) {
		t.Errorf("image error %v; want %v saying %q", e, c, says)
	}
}

var cupAndTable = []cloud.Label{
	{Name: "cup", Score: 0.9, Box: &cloud.Box{X: 0.1, Y: 0.2, W: 0.3, H: 0.4}},
	{Name: "dining table", Score: 0.6, Box: &cloud.Box{X: 0, Y: 0.5, W: 1, H: 0.5}},
	{Name: "spoon", Score: 0.5},
}

func TestLabelsAndObjects(t *testing.T) {
	c := start(t, &fake{labels: cupAndTable}, visionserver.Options{})
	req := request(pngOf(t, 60, 40), visionpb.Feature_OBJECT_LOCALIZATION)
	req.Features = append(req.Features, &visionpb.Feature{
		Type: visionpb.Feature_LABEL_DETECTION, MaxResults: 2})
	r := annotate(t, c, req)[0]
	if r.GetError() != nil {
		t.Fatalf("error %v", r.GetError())
	}

	var got []string
	for _, a := range r.GetLabelAnnotations() {
		got = append(got, a.GetDescription())
		if a.GetTopicality() != a.GetScore() || a.GetScore() <= 0 {
			t.Errorf("label %v: want score and topicality", a)
		}
	}
	if strings.Join(got, ",") != "cup,dining table" {
		t.Errorf("labels %v; want the best two", got)
	}

	objs := r.GetLocalizedObjectAnnotations()
	if len(objs) != 2 || objs[0].GetName() != "cup" {
		t.Fatalf("objects %v; want cup and dining table (the spoon has no box)", objs)
	}
	v := objs[0].GetBoundingPoly().GetNormalizedVertices()
	want := [][2]float32{{0.1, 0.2}, {0.4, 0.2}, {0.4, 0.6}, {0.1, 0.6}}
	if len(v) != 4 {
		t.Fatalf("cup vertices %v", v)
	}
	for i, w := range want {
		if d := v[i].GetX() - w[0] + v[i].GetY() - w[1]; d > 1e-6 || d < -1e-6 {
			t.Errorf("cup vertex %d is %v, want %v", i, v[i], w)
		}
	}
	if len(r.GetFaceAnnotations()) != 0 {
		t.Error("faces were not asked for")
	}
}

func TestSourceURIIsRefused(t *testing.T) {
	c := start(t, &fake{labels: cupAndTable}, visionserver.Options{})
	req := request(nil, visionpb.Feature_LABEL_DETECTION)
	req.Image.Source = &visionpb.ImageSource{ImageUri: "https://example.com/cat.jpg"}
	wantImageError(t, annotate(t, c, req)[0], codes.InvalidArgument,
		"this server reads only inline content")
	wantImageError(t, annotate(t, c, request(nil, visionpb.Feature_LABEL_DETECTION))[0],
		codes.InvalidArgument, "image.content is empty")
	wantImageError(t, annotate(t, c, request(pngOf(t, 4, 4)))[0], codes.InvalidArgument,
		"no features")
}

// An unsupported feature is an error for the image, while what is supported
// is still answered, as Google does.
func TestUnsupportedFeature(t *testing.T) {
	c := start(t, &fake{labels: cupAndTable}, visionserver.Options{})
	r := annotate(t, c, request(pngOf(t, 8, 8), visionpb.Feature_TEXT_DETECTION,
		visionpb.Feature_LABEL_DETECTION))[0]
	wantImageError(t, r, codes.InvalidArgument, "TEXT_DETECTION is not supported")
	if len(r.GetLabelAnnotations()) != 3 {
		t.Errorf("labels %v; want them beside the error", r.GetLabelAnnotations())
	}
}

func TestFacesNotAvailable(t *testing.T) {
	c := start(t, &fake{labels: cupAndTable}, visionserver.Options{})
	r := annotate(t, c, request(pngOf(t, 8, 8), visionpb.Feature_FACE_DETECTION))[0]
	wantImageError(t, r, codes.FailedPrecondition, "FACE_DETECTION is not available")
}

// Faces come from the face labeller, only when asked for, with boxes in
// pixels as Google gives them, and are not labels.
func TestFaces(t *testing.T) {
	plain := &fake{labels: cupAndTable}
	faces := &fake{labels: append([]cloud.Label{{Name: "face", Score: 0.8,
		Box: &cloud.Box{X: 0.25, Y: 0.25, W: 0.5, H: 0.5}}}, cupAndTable...)}
	c := start(t, plain, visionserver.Options{Faces: faces})

	r := annotate(t, c, request(pngOf(t, 200, 100), visionpb.Feature_FACE_DETECTION,
		visionpb.Feature_LABEL_DETECTION))[0]
	if r.GetError() != nil {
		t.Fatal(r.GetError())
	}
	fs := r.GetFaceAnnotations()
	if len(fs) != 1 || fs[0].GetDetectionConfidence() != 0.8 {
		t.Fatalf("faces %v", fs)
	}
	want := []*visionpb.Vertex{{X: 50, Y: 25}, {X: 150, Y: 25}, {X: 150, Y: 75}, {X: 50, Y: 75}}
	for i, v := range fs[0].GetBoundingPoly().GetVertices() {
		if v.GetX() != want[i].GetX() || v.GetY() != want[i].GetY() {
			t.Errorf("face vertex %d is %v, want %v", i, v, want[i])
		}
	}
	for _, a := range r.GetLabelAnnotations() {
		if a.GetDescription() == "face" {
			t.Error("a face is also a label annotation")
		}
	}

	annotate(t, c, request(pngOf(t, 200, 100), visionpb.Feature_LABEL_DETECTION))
	if len(plain.seen) != 1 || len(faces.seen) != 1 {
		t.Errorf("plain labeller saw %d images, face labeller %d; want one each",
			len(plain.seen), len(faces.seen))
	}
}

func TestBadImageInBatch(t *testing.T) {
	f := &fake{labels: cupAndTable}
	c := start(t, f, visionserver.Options{})
	rs := annotate(t, c, request(pngOf(t, 30, 20), visionpb.Feature_LABEL_DETECTION),
		request([]byte("shopping list"), visionpb.Feature_LABEL_DETECTION),
		request(pngOf(t, 30, 20)[:40], visionpb.Feature_LABEL_DETECTION))
	if rs[0].GetError() != nil || len(rs[0].GetLabelAnnotations()) == 0 {
		t.Errorf("good image: %v", rs[0])
	}
	wantImageError(t, rs[1], codes.InvalidArgument, "not a JPEG, PNG")
	wantImageError(t, rs[2], codes.InvalidArgument, "truncated")
	if len(f.seen) != 1 || f.seen[0] != image.Rect(0, 0, 30, 20) {
		t.Errorf("the labeller saw %v", f.seen)
	}
}

func TestLabellerErrorIsTheImagesError(t *testing.T) {
	c := start(t, &fake{err: cloud.Errorf(cloud.FailedPrecondition, "ondevice label",
		"labeller is closed")}, visionserver.Options{})
	r := annotate(t, c, request(pngOf(t, 8, 8), visionpb.Feature_LABEL_DETECTION))[0]
	wantImageError(t, r, codes.FailedPrecondition, "labeller is closed")
}

func TestMalformedBatch(t *testing.T) {
	c := start(t, &fake{}, visionserver.Options{})
	_, err := c.BatchAnnotateImages(context.Background(), &visionpb.BatchAnnotateImagesRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty batch: %v", err)
	}
	reqs := make([]*visionpb.AnnotateImageRequest, visionserver.MaxBatch+1)
	for i := range reqs {
		reqs[i] = request([]byte("x"), visionpb.Feature_LABEL_DETECTION)
	}
	_, err = c.BatchAnnotateImages(context.Background(),
		&visionpb.BatchAnnotateImagesRequest{Requests: reqs})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most") {
		t.Errorf("17 images: %v", err)
	}
}

// Photos over gRPC's default 4 MiB message size are accepted.
func TestLargeRequest(t *testing.T) {
	c := start(t, &fake{}, visionserver.Options{})
	big := append(pngOf(t, 8, 8), make([]byte, 6<<20)...)
	r := annotate(t, c, request(big, visionpb.Feature_LABEL_DETECTION))[0]
	if r.GetError() != nil {
		t.Errorf("a 6 MiB PNG: %v", r.GetError())
	}
}

func TestListenOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.168.1.5:0", "example.com:0"} {
		l, err := visionserver.Listen(addr, false)
		if !errors.Is(err, visionserver.ErrNotLoopback) ||
			!strings.Contains(err.Error(), "--public") {
			t.Errorf("Listen(%q): %v; want a refusal naming --public", addr, err)
		}
		if l != nil {
			l.Close()
		}
	}
	if _, err := visionserver.Listen("127.0.0.1", false); err == nil ||
		errors.Is(err, visionserver.ErrNotLoopback) {
		t.Errorf("an address without a port: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		l, err := visionserver.Listen(addr, false)
		var op *net.OpError
		if errors.As(err, &op) && addr == "[::1]:0" {
			continue // no IPv6 on this machine
		}
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		l.Close()
	}
}

func TestServeStopsWhenCancelled(t *testing.T) {
	lis, err := visionserver.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := visionserver.New(&fake{}, visionserver.Options{})
	go func() { done <- visionserver.Serve(ctx, lis, srv) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if c, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		c.Close()
		t.Error("still listening after Serve returned")
	}
}
