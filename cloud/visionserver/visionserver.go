// Package visionserver is a Vision-compatible gRPC server backed by a
// cloud.Labeller, normally the on-device model: it answers the Cloud Vision
// API's BatchAnnotateImages (google.cloud.vision.v1.ImageAnnotator), so that
// Google's own client libraries, and Multi-Cloud's Vision provider, can be
// pointed at it instead of Google. `multicloud serve vision` runs it.
//
// It serves LABEL_DETECTION (label annotations with description, score and
// topicality), OBJECT_LOCALIZATION (localized object annotations with
// normalized bounding polygons) and, given a labeller that finds faces,
// FACE_DETECTION (face annotations with bounding polygons in pixels, as
// Google gives them); that labeller is used only for the images that ask
// for faces, so that the others do not pay for finding them. What it cannot
// do is answered the way Google answers a problem with one image of a batch:
// in that image's error (AnnotateImageResponse.error), while the call itself
// succeeds. Images are read from image.content only; image.source URIs are
// not fetched.
//
// Shortcomings: labels have no knowledge-graph ids (mid), and topicality is
// the score. The on-device labeller keeps one box per name, so two cups in a
// photo are one localized object, the surer one. Faces have a box and a
// confidence but no landmarks or likelihoods.
//
// It has no authentication: Listen refuses addresses that other machines can
// reach unless asked to allow them.
package visionserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
)

const (
	// DefaultAddr is where `multicloud serve vision` listens unless told.
	DefaultAddr = "127.0.0.1:50051"
	// MaxBatch is the most images one call may carry, as on Google.
	MaxBatch = 16
	// MaxRequestBytes bounds a request: Google's 20 MB per image plus room
	// for the rest. gRPC's default of 4 MiB would refuse ordinary photos.
	MaxRequestBytes = 24 << 20
	// defaultMaxResults is used for a feature that asks for 0 results, as
	// Google does.
	defaultMaxResults = 10
	// faceLabel is the name under which the labeller reports faces.
	faceLabel = "face"
)

// Options configure New.
type Options struct {
	// Faces labels the images that ask for FACE_DETECTION: a labeller that
	// also reports faces, as labels named "face" with boxes. Without it
	// FACE_DETECTION gets a per-image error. The server does not close it.
	Faces cloud.Labeller
	// Logger receives one line per call at debug level; nil means slog's default.
	Logger *slog.Logger
}

// Server implements visionpb.ImageAnnotatorServer. The methods it does not
// implement (files, asynchronous batches) answer Unimplemented.
type Server struct {
	visionpb.UnimplementedImageAnnotatorServer
	labeller cloud.Labeller
	faces    cloud.Labeller
	log      *slog.Logger
}

var _ visionpb.ImageAnnotatorServer = (*Server)(nil)

// New makes a server that labels with l. The server does not close l.
func New(l cloud.Labeller, opts Options) *Server {
	s := &Server{labeller: l, faces: opts.Faces, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// BatchAnnotateImages annotates each image of the batch. Problems with one
// image are in its response's error; the call fails only for a malformed
// batch or when the caller gave up.
func (s *Server) BatchAnnotateImages(ctx context.Context,
	req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
	start := time.Now()
	n := len(req.GetRequests())
	if n == 0 {
		return nil, status.Error(codes.InvalidArgument, "the batch has no requests")
	}
	if n > MaxBatch {
		return nil, status.Errorf(codes.InvalidArgument,
			"the batch has %d images; at most %d are allowed", n, MaxBatch)
	}

	resp := &visionpb.BatchAnnotateImagesResponse{
		Responses: make([]*visionpb.AnnotateImageResponse, n),
	}
	failed := 0
	for i, r := range req.GetRequests() {
		ar, err := s.annotate(ctx, r)
		if err != nil {
			return nil, err
		}
		if ar.GetError() != nil {
			failed++
		}
		resp.Responses[i] = ar
	}
	s.log.Debug("BatchAnnotateImages", "images", n, "failed", failed,
		"took", time.Since(start).Round(time.Millisecond))
	return resp, nil
}

// wanted is what one image's features ask for: a result limit per feature,
// 0 for a feature not asked for.
type wanted struct {
	labels, objects, faces int
}

// annotate answers one image. Its error is only for a caller that gave up.
func (s *Server) annotate(ctx context.Context,
	r *visionpb.AnnotateImageRequest) (*visionpb.AnnotateImageResponse, error) {
	img := r.GetImage()
	if len(img.GetContent()) == 0 {
		if src := img.GetSource(); src.GetImageUri() != "" || src.GetGcsImageUri() != "" {
			return failure(codes.InvalidArgument, "this server reads only inline content "+
				"(image.content); image.source URIs are not fetched"), nil
		}
		return failure(codes.InvalidArgument, "no image: image.content is empty"), nil
	}
	if len(r.GetFeatures()) == 0 {
		return failure(codes.InvalidArgument, "no features requested"), nil
	}

	var w wanted
	var problems []string
	code := codes.OK
	for _, f := range r.GetFeatures() {
		limit := int(f.GetMaxResults())
		if limit <= 0 {
			limit = defaultMaxResults
		}
		switch f.GetType() {
		case visionpb.Feature_LABEL_DETECTION:
			w.labels = max(w.labels, limit)
		case visionpb.Feature_OBJECT_LOCALIZATION:
			w.objects = max(w.objects, limit)
		case visionpb.Feature_FACE_DETECTION:
			if s.faces == nil {
				problems = append(problems, "FACE_DETECTION is not available: this server "+
					"runs without a face detector")
				if code == codes.OK {
					code = codes.FailedPrecondition
				}
				continue
			}
			w.faces = max(w.faces, limit)
		default:
			problems = append(problems, fmt.Sprintf("feature %s is not supported by this "+
				"server; it offers %s", f.GetType(), s.offers()))
			code = codes.InvalidArgument
		}
	}

	out := &visionpb.AnnotateImageResponse{}
	if w != (wanted{}) {
		l := s.labeller
		if w.faces > 0 {
			l = s.faces
		}
		labels, err := label(ctx, l, img.GetContent())
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, status.FromContextError(cerr).Err()
			}
			return failure(grpcCode(err), err.Error()), nil
		}
		fill(out, labels, w)
	}
	if len(problems) > 0 {
		// Annotations already filled in stay: Google's rule is that they are
		// correct even when the image has an error.
		out.Error = status.New(code, strings.Join(problems, "; ")).Proto()
	}
	return out, nil
}

func (s *Server) offers() string {
	if s.faces != nil {
		return "LABEL_DETECTION, OBJECT_LOCALIZATION and FACE_DETECTION"
	}
	return "LABEL_DETECTION and OBJECT_LOCALIZATION"
}

// labelled is the labeller's answer with the size of the image it saw, for
// face boxes in pixels.
type labelled struct {
	labels []cloud.Label
	w, h   int
}

func label(ctx context.Context, l cloud.Labeller, content []byte) (labelled, error) {
	d, err := photo.Decode(content, 0)
	if err != nil {
		return labelled{}, err
	}
	labels, err := l.Label(ctx, &cloud.Photo{Data: content,
		ContentType: d.ContentType, Image: d.Image})
	return labelled{labels: labels, w: d.Width, h: d.Height}, err
}

// fill puts the labels into the annotations that were asked for, best first
// as the labeller sorted them. Faces are only face annotations.
func fill(out *visionpb.AnnotateImageResponse, l labelled, w wanted) {
	for _, lb := range l.labels {
		if lb.Name == faceLabel {
			if len(out.FaceAnnotations) < w.faces && lb.Box != nil {
				out.FaceAnnotations = append(out.FaceAnnotations, face(lb, l.w, l.h))
			}
			continue
		}
		if len(out.LabelAnnotations) < w.labels {
			out.LabelAnnotations = append(out.LabelAnnotations, &visionpb.EntityAnnotation{
				Description: lb.Name,
				Score:       lb.Score,
				Topicality:  lb.Score,
			})
		}
		if len(out.LocalizedObjectAnnotations) < w.objects && lb.Box != nil {
			out.LocalizedObjectAnnotations = append(out.LocalizedObjectAnnotations,
				&visionpb.LocalizedObjectAnnotation{
					Name:         lb.Name,
					Score:        lb.Score,
					BoundingPoly: &visionpb.BoundingPoly{NormalizedVertices: corners(lb.Box)},
				})
		}
	}
}

// corners are a box's four corners clockwise from the top left, as Google
// orders them.
func corners(b *cloud.Box) []*visionpb.NormalizedVertex {
	return []*visionpb.NormalizedVertex{
		{X: b.X, Y: b.Y},
		{X: b.X + b.W, Y: b.Y},
		{X: b.X + b.W, Y: b.Y + b.H},
		{X: b.X, Y: b.Y + b.H},
	}
}

// face is a face annotation with its box in pixels of a w×h image.
func face(lb cloud.Label, w, h int) *visionpb.FaceAnnotation {
	px := func(v float32, n int) int32 { return int32(v*float32(n) + 0.5) }
	b := lb.Box
	x1, y1, x2, y2 := px(b.X, w), px(b.Y, h), px(b.X+b.W, w), px(b.Y+b.H, h)
	poly := &visionpb.BoundingPoly{Vertices: []*visionpb.Vertex{
		{X: x1, Y: y1}, {X: x2, Y: y1}, {X: x2, Y: y2}, {X: x1, Y: y2},
	}}
	return &visionpb.FaceAnnotation{
		BoundingPoly:        poly,
		FdBoundingPoly:      poly,
		DetectionConfidence: lb.Score,
	}
}

// failure is an image's response that carries only an error.
func failure(c codes.Code, msg string) *visionpb.AnnotateImageResponse {
	return &visionpb.AnnotateImageResponse{Error: status.New(c, msg).Proto()}
}

// grpcCode is the gRPC code for a labeller's error.
func grpcCode(err error) codes.Code {
	switch cloud.CodeOf(err) {
	case cloud.InvalidArgument:
		return codes.InvalidArgument
	case cloud.FailedPrecondition:
		return codes.FailedPrecondition
	case cloud.DeadlineExceeded:
		return codes.DeadlineExceeded
	case cloud.Unavailable:
		return codes.Unavailable
	case cloud.ResourceExhausted:
		return codes.ResourceExhausted
	}
	return codes.Internal
}

// IsLoopback reports whether addr (host:port) names only this machine:
// localhost, 127.0.0.0/8 or ::1. An empty host (":50051") means every
// address, which is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrNotLoopback is returned by Listen for an address other machines can reach.
var ErrNotLoopback = errors.New("not a loopback address")

// Listen opens addr for the server. Unless public is set, only a loopback
// address is allowed: the server has no authentication, and would label
// anybody's photos with this machine's processor.
func Listen(addr string, public bool) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("address %q is not host:port (%v)", addr, err)
	}
	if !public && !IsLoopback(addr) {
		return nil, fmt.Errorf("refusing to listen on %s: it is %w, so other machines "+
			"could reach the server, which has no authentication; use e.g. %s, or pass "+
			"--public to allow other machines", addr, ErrNotLoopback, DefaultAddr)
	}
	return net.Listen("tcp", addr)
}

// NewGRPCServer makes a gRPC server with s registered and room for photos
// up to Google's size limit.
func NewGRPCServer(s *Server) *grpc.Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(MaxRequestBytes),
		// A photo is hundreds of kilobytes in one message. With gRPC's 64 KiB
		// starting flow-control window the client stops every 64 KiB to wait
		// for the window to open, which on loopback costs more than sending;
		// a window as large as a request lets a photo arrive in one go.
		grpc.InitialWindowSize(MaxRequestBytes),
		grpc.InitialConnWindowSize(MaxRequestBytes))
	visionpb.RegisterImageAnnotatorServer(g, s)
	return g
}

// Serve answers on lis until ctx ends, then lets calls in progress finish
// for up to drain before closing them.
func Serve(ctx context.Context, lis net.Listener, s *Server) error {
	const drain = 5 * time.Second
	g := NewGRPCServer(s)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	stopped := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(drain):
		g.Stop()
	}
	// A stop that came before Serve started is still a clean stop.
	if err := <-served; !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
