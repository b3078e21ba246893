package gvision_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"golang.org/x/image/bmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/gvision"
	"github.com/multicloud/multicloud/internal/emulator"
)

// step is one scripted answer of the fake Vision server.
type step func(ctx context.Context,
	req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error)

// script is a real gRPC Vision server on loopback that answers call n with
// steps[n], repeating the last step, and remembers what it was sent.
type script struct {
	visionpb.UnimplementedImageAnnotatorServer
	mu    sync.Mutex
	steps []step
	reqs  []*visionpb.BatchAnnotateImagesRequest
}

func (s *script) BatchAnnotateImages(ctx context.Context,
	req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, req)
	st := s.steps[min(n, len(s.steps)-1)]
	s.mu.Unlock()
	return st(ctx, req)
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *script) request(i int) *visionpb.AnnotateImageRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[i].GetRequests()[0]
}

// startScript serves the steps on 127.0.0.1 and returns a provider talking
// to them with opts (Endpoint and Insecure are filled in).
func startScript(t *testing.T, opts gvision.Options, steps ...step) (*script,
	*gvision.Labeller) {
	t.Helper()
	s := &script{steps: steps}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	visionpb.RegisterImageAnnotatorServer(g, s)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	opts.Endpoint, opts.Insecure = lis.Addr().String(), true
	return s, open(t, opts)
}

func open(t *testing.T, opts gvision.Options) *gvision.Labeller {
	t.Helper()
	l, err := gvision.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func answer(r ...*visionpb.AnnotateImageResponse) step {
	return func(context.Context, *visionpb.BatchAnnotateImagesRequest) (
		*visionpb.BatchAnnotateImagesResponse, error) {
		return &visionpb.BatchAnnotateImagesResponse{Responses: r}, nil
	}
}

func fail(c codes.Code, msg string) step {
	return func(context.Context, *visionpb.BatchAnnotateImagesRequest) (
		*visionpb.BatchAnnotateImagesResponse, error) {
		return nil, status.Error(c, msg)
	}
}

func hang(ctx context.Context, _ *visionpb.BatchAnnotateImagesRequest) (
	*visionpb.BatchAnnotateImagesResponse, error) {
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// testPhoto is a w×h grey PNG as the pipeline hands it over.
func testPhoto(t testing.TB, w, h int) *cloud.Photo {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Gray{Y: 128}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return &cloud.Photo{Data: buf.Bytes(), ContentType: "image/png", Image: img}
}

func label(desc string, score float32) *visionpb.EntityAnnotation {
	return &visionpb.EntityAnnotation{Description: desc, Score: score, Topicality: score}
}

func wantCode(t *testing.T, err error, want cloud.Code, says ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v", want)
	}
	if got := cloud.CodeOf(err); got != want {
		t.Errorf("code %v, want %v: %v", got, want, err)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q: %v", s, err)
		}
	}
}

func TestPerImageErrorIsAnError(t *testing.T) {
	s, l := startScript(t, gvision.Options{}, answer(&visionpb.AnnotateImageResponse{
		Error:            status.New(codes.InvalidArgument, "Bad image data.").Proto(),
		LabelAnnotations: []*visionpb.EntityAnnotation{label("Cup", 0.9)},
	}))
	labels, err := l.Label(context.Background(), testPhoto(t, 64, 48))
	wantCode(t, err, cloud.InvalidArgument, "Bad image data.")
	if labels != nil {
		t.Errorf("labels %v with an error", labels)
	}
	if s.calls() != 1 {
		t.Errorf("%d calls; a refused photo must not be sent again", s.calls())
	}
}

func TestEmptyResponseIsNoLabels(t *testing.T) {
	for name, st := range map[string]step{
		"NoResponses":   answer(),
		"EmptyResponse": answer(&visionpb.AnnotateImageResponse{}),
		"OKStatus": answer(&visionpb.AnnotateImageResponse{
			Error: status.New(codes.OK, "").Proto()}),
	} {
		t.Run(name, func(t *testing.T) {
			_, l := startScript(t, gvision.Options{}, st)
			labels, err := l.Label(context.Background(), testPhoto(t, 64, 48))
			if err != nil || labels == nil || len(labels) != 0 {
				t.Errorf("got %v, %v; want an empty slice and no error", labels, err)
			}
		})
	}
}

func TestQuotaIsWaitedOut(t *testing.T) {
	quota := status.New(codes.ResourceExhausted, "Quota exceeded for quota metric")
	withDelay, err := quota.WithDetails(&errdetails.RetryInfo{
		RetryDelay: durationpb.New(20 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	s, l := startScript(t, gvision.Options{Timeout: 5 * time.Second},
		fail(codes.ResourceExhausted, "Quota exceeded for quota metric"),
		func(context.Context, *visionpb.BatchAnnotateImagesRequest) (
			*visionpb.BatchAnnotateImagesResponse, error) {
			return nil, withDelay.Err()
		},
		answer(&visionpb.AnnotateImageResponse{LabelAnnotations: []*visionpb.EntityAnnotation{
			{Mid: "/m/02p5f1q", Description: "Coffee_Cup", Score: 0.93, Topicality: 0.91},
			label("Tableware", 0.8),
			label("Cat", 0.1),
		}}))
	start := time.Now()
	labels, err := l.Label(context.Background(), testPhoto(t, 64, 48))
	if err != nil {
		t.Fatalf("Label after two quota errors: %v", err)
	}
	if s.calls() != 3 {
		t.Errorf("%d calls, want 3", s.calls())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v; the backoff should be well under a second here", took)
	}
	want := []cloud.Label{
		{Name: "coffee cup", Score: 0.93, MID: "/m/02p5f1q", Topicality: 0.91},
		{Name: "tableware", Score: 0.8, Topicality: 0.8},
	}
	if len(labels) != len(want) {
		t.Fatalf("labels %+v, want %+v (below-threshold dropped)", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Errorf("label %d is %+v, want %+v", i, labels[i], want[i])
		}
	}
}

func TestQuotaGivesUpAtTheDeadline(t *testing.T) {
	s, l := startScript(t, gvision.Options{Timeout: time.Second},
		fail(codes.ResourceExhausted, "Quota exceeded"))
	start := time.Now()
	_, err := l.Label(context.Background(), testPhoto(t, 64, 48))
	took := time.Since(start)
	wantCode(t, err, cloud.ResourceExhausted, "Quota exceeded", "gave up after")
	if !cloud.Retryable(err) {
		t.Error("a quota error must leave the photo for a later retry")
	}
	if took > 1500*time.Millisecond || s.calls() < 2 {
		t.Errorf("%d calls in %v; want several within the 1 s deadline", s.calls(), took)
	}
}

func TestRefusalsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		code codes.Code
		want cloud.Code
		says string
	}{
		{codes.InvalidArgument, cloud.InvalidArgument, "will not help"},
		{codes.PermissionDenied, cloud.PermissionDenied, "credentials_file"},
		{codes.Unauthenticated, cloud.PermissionDenied, "Application Default Credentials"},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			s, l := startScript(t, gvision.Options{}, fail(tc.code, "refused by the script"))
			_, err := l.Label(context.Background(), testPhoto(t, 64, 48))
			wantCode(t, err, tc.want, "refused by the script", tc.says)
			if cloud.Retryable(err) {
				t.Error("retryable; sending it again will not help")
			}
			if s.calls() != 1 {
				t.Errorf("%d calls, want 1", s.calls())
			}
		})
	}
}

func TestHungServerMeetsTheDeadline(t *testing.T) {
	_, l := startScript(t, gvision.Options{Timeout: time.Second}, hang)
	start := time.Now()
	_, err := l.Label(context.Background(), testPhoto(t, 64, 48))
	took := time.Since(start)
	wantCode(t, err, cloud.DeadlineExceeded, "within 1s", "timeout")
	if took < 900*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v; want about the 1 s deadline", took)
	}
}

func TestCallerCancelStopsTheCall(t *testing.T) {
	_, l := startScript(t, gvision.Options{Timeout: time.Minute}, hang)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Label(ctx, testPhoto(t, 64, 48))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v; want the caller's deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v after the caller gave up at 200 ms", took)
	}
}

func TestNoServerIsUnavailable(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(emulator.FreePort(t)))
	l := open(t, gvision.Options{Endpoint: addr, Insecure: true, Timeout: 10 * time.Second})
	start := time.Now()
	_, err := l.Label(context.Background(), testPhoto(t, 64, 48))
	wantCode(t, err, cloud.Unavailable, addr)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v to find nothing listening; want one quick retry", took)
	}
}

func TestRequestAsksForTheConfiguredFeatures(t *testing.T) {
	s, l := startScript(t, gvision.Options{MaxResults: 7, Objects: true, Faces: true},
		answer(&visionpb.AnnotateImageResponse{}))
	p := testPhoto(t, 64, 48)
	if _, err := l.Label(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	r := s.request(0)
	var got []string
	for _, f := range r.GetFeatures() {
		if f.GetMaxResults() != 7 {
			t.Errorf("%v asks for %d results, want 7", f.GetType(), f.GetMaxResults())
		}
		got = append(got, f.GetType().String())
	}
	if strings.Join(got, ",") != "LABEL_DETECTION,OBJECT_LOCALIZATION,FACE_DETECTION" {
		t.Errorf("features %v", got)
	}
	// To a server on loopback a small photo goes as an uncompressed BMP of
	// the same pixels (see prepare).
	sent, err := bmp.Decode(bytes.NewReader(r.GetImage().GetContent()))
	if err != nil {
		t.Fatalf("sent something that is not a BMP: %v", err)
	}
	if sent.Bounds() != p.Image.Bounds() || !sameColour(sent.At(3, 4), p.Image.At(3, 4)) {
		t.Errorf("sent %v; want the photo's pixels", sent.Bounds())
	}

	s, l = startScript(t, gvision.Options{}, answer(&visionpb.AnnotateImageResponse{}))
	if _, err := l.Label(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if f := s.request(0).GetFeatures(); len(f) != 1 || f[0].GetMaxResults() !=
		gvision.DefaultMaxResults {
		t.Errorf("default features %v", f)
	}
}

// A large photo is sent as a JPEG no longer than MaxEdge, and face boxes,
// which come back in its pixels, are relative to it.
func TestLargePhotoIsDownscaled(t *testing.T) {
	face := &visionpb.FaceAnnotation{DetectionConfidence: 0.9, BoundingPoly: &visionpb.
		BoundingPoly{Vertices: []*visionpb.Vertex{{X: 400, Y: 150}, {X: 800, Y: 150},
		{X: 800, Y: 450}, {X: 400, Y: 450}}}}
	s, l := startScript(t, gvision.Options{Faces: true},
		answer(&visionpb.AnnotateImageResponse{FaceAnnotations: []*visionpb.FaceAnnotation{
			face}}))
	labels, err := l.Label(context.Background(), testPhoto(t, 3200, 1200))
	if err != nil {
		t.Fatal(err)
	}
	sent := s.request(0).GetImage().GetContent()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(sent))
	if err != nil || format != "jpeg" || cfg.Width != 1600 || cfg.Height != 600 {
		t.Errorf("sent %s %d×%d (%v); want a 1600×600 JPEG", format, cfg.Width, cfg.Height,
			err)
	}
	want := cloud.Box{X: 0.25, Y: 0.25, W: 0.25, H: 0.5}
	if len(labels) != 1 || labels[0].Name != "face" || labels[0].Box == nil ||
		*labels[0].Box != want {
		t.Errorf("labels %+v; want one face at %+v", labels, want)
	}
}

// Objects lend their boxes to labels of the same name, so a record keeps
// Vision's label score, mid and topicality and where the thing is.
func TestObjectsGiveLabelsBoxes(t *testing.T) {
	poly := func(x1, y1, x2, y2 float32) *visionpb.BoundingPoly {
		return &visionpb.BoundingPoly{NormalizedVertices: []*visionpb.NormalizedVertex{
			{X: x1, Y: y1}, {X: x2, Y: y1}, {X: x2, Y: y2}, {X: x1, Y: y2}}}
	}
	_, l := startScript(t, gvision.Options{Objects: true},
		answer(&visionpb.AnnotateImageResponse{
			LabelAnnotations: []*visionpb.EntityAnnotation{
				{Mid: "/m/02p5f1q", Description: "Cup", Score: 0.95, Topicality: 0.9},
				label("Table", 0.7),
			},
			LocalizedObjectAnnotations: []*visionpb.LocalizedObjectAnnotation{
				{Mid: "/m/02p5f1q", Name: "Cup", Score: 0.6, BoundingPoly: poly(0.2, 0.1,
					0.3, 0.2)},
				{Mid: "/m/02p5f1q", Name: "Cup", Score: 0.8, BoundingPoly: poly(0.5, 0.5,
					0.7, 0.9)},
				{Mid: "/m/01bqk0", Name: "Spoon", Score: 0.75, BoundingPoly: poly(0, 0, 1.2,
					0.5)},
			},
		}))
	labels, err := l.Label(context.Background(), testPhoto(t, 64, 48))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cloud.Label{}
	for _, lb := range labels {
		byName[lb.Name] = lb
	}
	cup := byName["cup"]
	if cup.Score != 0.95 || cup.MID != "/m/02p5f1q" || cup.Topicality != 0.9 ||
		cup.Box == nil || !near(*cup.Box, cloud.Box{X: 0.5, Y: 0.5, W: 0.2, H: 0.4}) {
		t.Errorf("cup %+v (box %+v); want the label's score and the surer object's box",
			cup, cup.Box)
	}
	spoon := byName["spoon"]
	if spoon.Box == nil || !near(*spoon.Box, cloud.Box{X: 0, Y: 0, W: 1, H: 0.5}) {
		t.Errorf("spoon %+v; want its box clamped to the image", spoon)
	}
	if byName["table"].Box != nil {
		t.Errorf("table has a box but no object was found for it")
	}
}

func near(a, b cloud.Box) bool {
	d := func(x, y float32) bool { return x-y < 1e-5 && y-x < 1e-5 }
	return d(a.X, b.X) && d(a.Y, b.Y) && d(a.W, b.W) && d(a.H, b.H)
}

func TestInsecureOnlyOnLoopback(t *testing.T) {
	for _, ep := range []string{"vision.googleapis.com:443", "10.0.0.5:50051",
		"192.168.1.2:50051", ""} {
		_, err := gvision.Open(context.Background(), gvision.Options{Endpoint: ep,
			Insecure: true})
		wantCode(t, err, cloud.InvalidArgument)
		if err != nil && !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%q: the error does not say what is allowed: %v", ep, err)
		}
	}
	for _, ep := range []string{"127.0.0.1:50051", "localhost:50051", "[::1]:50051",
		"127.3.4.5:1"} {
		l := open(t, gvision.Options{Endpoint: ep, Insecure: true})
		if l.Name() != "vision:"+ep {
			t.Errorf("Name %q for endpoint %q", l.Name(), ep)
		}
	}
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An authorized-user file is only used when a token is needed, so the
	// client opens without a network.
	user := write("user.json", `{"type": "authorized_user", "client_id": "id",
		"client_secret": "not-a-secret", "refresh_token": "not-a-token"}`)
	l := open(t, gvision.Options{CredentialsFile: user})
	if l.Name() != "vision:google" {
		t.Errorf("Name %q, want vision:google", l.Name())
	}

	_, err := gvision.Open(context.Background(), gvision.Options{
		CredentialsFile: write("ext.json", `{"type": "external_account"}`)})
	wantCode(t, err, cloud.InvalidArgument, "external_account", "GOOGLE_APPLICATION_CREDENTIALS")
	_, err = gvision.Open(context.Background(), gvision.Options{
		CredentialsFile: filepath.Join(dir, "missing.json")})
	wantCode(t, err, cloud.FailedPrecondition, "missing.json")
	_, err = gvision.Open(context.Background(), gvision.Options{CredentialsFile: user,
		Endpoint: "127.0.0.1:1", Insecure: true})
	wantCode(t, err, cloud.InvalidArgument, "unencrypted")
}

func sameColour(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}
