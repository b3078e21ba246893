// Package gvision is the labeller on Google Cloud Vision: each photo is sent
// to the Vision API's BatchAnnotateImages with LABEL_DETECTION and, when
// asked for, OBJECT_LOCALIZATION (labels with boxes) and FACE_DETECTION
// (label "face" with a box).
//
// It talks to Google (credentials from Application Default Credentials or a
// key file) or, with an endpoint and Insecure, to a Vision-compatible server
// on this machine such as `multicloud serve vision` (cloud/visionserver),
// over plain gRPC without credentials. Insecure is refused for any address
// that is not loopback, so that no photo travels unencrypted off the machine.
//
// Every call has a deadline (Options.Timeout): the Vision client library
// otherwise retries an unreachable service for up to ten minutes. Within it a
// quota or rate limit (ResourceExhausted) is waited out with backoff; a
// refused photo (InvalidArgument) or refused credentials (PermissionDenied)
// fail at once with what to fix. gRPC codes become cloud codes, so the
// pipeline keeps a photo for a retry only when a retry can help.
//
// Label names go through cloud.MergeLabels like every labeller's, so that
// Vision's "Cat" and the on-device model's "cat" are the same label; Vision's
// knowledge-graph id (mid) and topicality are kept in the label.
package gvision

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	vision "cloud.google.com/go/vision/v2/apiv1"
	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/multicloud/multicloud/cloud"
)

const (
	// DefaultMaxResults is how many labels (and objects, and faces) are
	// asked for per photo when Options.MaxResults is 0; the API's own
	// default for labels is the same.
	DefaultMaxResults = 10
	// DefaultTimeout bounds one photo's labelling, retries included.
	DefaultTimeout = 30 * time.Second
	// DefaultThreshold drops labels scoring below it when Options.Threshold is 0.
	DefaultThreshold = 0.35

	// faceLabel is the name faces are recorded under, as by the on-device
	// labeller, so that one search finds faces from either.
	faceLabel = "face"
)

// Options configure Open.
type Options struct {
	// Endpoint is host:port of the API; "" means Google's.
	Endpoint string
	// CredentialsFile is a service-account key or an authorized-user file
	// (from `gcloud auth application-default login`); "" means Application
	// Default Credentials.
	CredentialsFile string
	// Insecure talks plain gRPC without TLS or credentials. Only allowed
	// when Endpoint is a loopback address.
	Insecure bool
	// MaxResults is how many labels, objects and faces to ask for; 0 means
	// DefaultMaxResults.
	MaxResults int
	// Objects also asks for OBJECT_LOCALIZATION, which gives boxes.
	Objects bool
	// Faces also asks for FACE_DETECTION: each face is a label "face" with a box.
	Faces bool
	// Timeout bounds the labelling of one photo, retries included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Threshold drops labels scoring below it; 0 means DefaultThreshold.
	Threshold float32
}

// Labeller implements cloud.Labeller on the Vision API. It is safe for
// concurrent use.
type Labeller struct {
	client    *vision.ImageAnnotatorClient
	name      string
	features  []*visionpb.Feature
	timeout   time.Duration
	threshold float32
	// local is set for a server on this machine, to which images are sent
	// uncompressed (see prepare).
	local    bool
	callOpts []gax.CallOption
}

var _ cloud.Labeller = (*Labeller)(nil)

// Open makes a client for the Vision API. With Insecure it does not connect
// until the first photo; otherwise it finds the credentials now, so that a
// missing key is reported when the settings are opened, not per photo.
func Open(ctx context.Context, opts Options) (*Labeller, error) {
	const op = "vision open"
	l := &Labeller{
		name:      "vision:google",
		timeout:   opts.Timeout,
		threshold: opts.Threshold,
	}
	if opts.Endpoint != "" {
		l.name = "vision:" + opts.Endpoint
		l.local = IsLoopback(opts.Endpoint)
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.threshold <= 0 {
		l.threshold = DefaultThreshold
	}
	max := int32(opts.MaxResults)
	if max <= 0 {
		max = DefaultMaxResults
	}
	l.features = []*visionpb.Feature{{Type: visionpb.Feature_LABEL_DETECTION, MaxResults: max}}
	if opts.Objects {
		l.features = append(l.features,
			&visionpb.Feature{Type: visionpb.Feature_OBJECT_LOCALIZATION, MaxResults: max})
	}
	if opts.Faces {
		l.features = append(l.features,
			&visionpb.Feature{Type: visionpb.Feature_FACE_DETECTION, MaxResults: max})
	}
	// The library's own retry (Unavailable and DeadlineExceeded, for up to
	// ten minutes) is switched off: call retries what is worth retrying
	// within this labeller's deadline.
	l.callOpts = []gax.CallOption{
		gax.WithRetry(func() gax.Retryer { return nil }),
		gax.WithTimeout(l.timeout),
	}

	clientOpts, err := clientOptions(opts)
	if err != nil {
		return nil, cloud.Wrap(cloud.CodeOf(err), op, err)
	}
	l.client, err = vision.NewImageAnnotatorClient(ctx, clientOpts...)
	if err != nil {
		return nil, cloud.Errorf(cloud.PermissionDenied, op, "%v; set up Application Default "+
			"Credentials (`gcloud auth application-default login`, or GOOGLE_APPLICATION_"+
			"CREDENTIALS naming a key file) or name a key file in [labeller.vision] "+
			"credentials_file", err)
	}
	slog.Debug("vision labeller opened", "name", l.name, "features", len(l.features),
		"timeout", l.timeout)
	return l, nil
}

func clientOptions(opts Options) ([]option.ClientOption, error) {
	var out []option.ClientOption
	if opts.Endpoint != "" {
		out = append(out, option.WithEndpoint(opts.Endpoint))
	}
	if opts.Insecure {
		if opts.Endpoint == "" {
			return nil, cloud.Errorf(cloud.InvalidArgument, "vision open", "insecure needs "+
				"an endpoint on this machine, such as 127.0.0.1:50051 for `multicloud "+
				"serve vision`; Google's API is only reached over TLS")
		}
		if !IsLoopback(opts.Endpoint) {
			return nil, cloud.Errorf(cloud.InvalidArgument, "vision open", "insecure is "+
				"only allowed for a server on this machine (127.0.0.1, ::1 or localhost), "+
				"and endpoint %q is not: photos would travel unencrypted; remove insecure "+
				"to use TLS", opts.Endpoint)
		}
		if opts.CredentialsFile != "" {
			return nil, cloud.Errorf(cloud.InvalidArgument, "vision open", "credentials_file "+
				"and insecure exclude each other: credentials are never sent unencrypted")
		}
		return append(out, option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(
				insecure.NewCredentials())),
			// On loopback a raw photo (see prepare) is most of a megabyte:
			// written in one piece rather than 32 KiB at a time, it costs
			// the processor the model shares a few dozen fewer system calls.
			option.WithGRPCDialOption(grpc.WithWriteBufferSize(1<<20))), nil
	}
	if opts.CredentialsFile != "" {
		typ, err := credentialsType(opts.CredentialsFile)
		if err != nil {
			return nil, err
		}
		out = append(out, option.WithAuthCredentialsFile(typ, opts.CredentialsFile))
	}
	return out, nil
}

// credentialsType reads the "type" of a credentials file, so that only the
// two kinds a person makes for themselves are loaded from the settings; any
// other kind still works through Application Default Credentials.
func credentialsType(path string) (option.CredentialsType, error) {
	const op = "vision open"
	b, err := os.ReadFile(path)
	if err != nil {
		return "", cloud.Errorf(cloud.FailedPrecondition, op, "credentials_file: %v", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", cloud.Errorf(cloud.InvalidArgument, op,
			"credentials_file %s is not a JSON credentials file", path)
	}
	switch t := option.CredentialsType(f.Type); t {
	case option.ServiceAccount, option.AuthorizedUser:
		return t, nil
	}
	return "", cloud.Errorf(cloud.InvalidArgument, op, "credentials_file %s holds %q "+
		"credentials; name a service-account key or an authorized-user file, or leave "+
		"credentials_file empty and set GOOGLE_APPLICATION_CREDENTIALS", path, f.Type)
}

// IsLoopback reports whether addr (host:port, or a bare host) names this
// machine: localhost or an address in 127.0.0.0/8 or ::1.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name is "vision:google" or "vision:ENDPOINT".
func (l *Labeller) Name() string { return l.name }

// Close closes the connection.
func (l *Labeller) Close() error { return l.client.Close() }

// Label sends the photo to Vision and returns what it found, normalised and
// merged, best first.
func (l *Labeller) Label(ctx context.Context, p *cloud.Photo) ([]cloud.Label, error) {
	const op = "vision label"
	if p == nil || p.Image == nil {
		return nil, cloud.Errorf(cloud.InvalidArgument, op, "no decoded image")
	}
	if err := ctx.Err(); err != nil {
		return nil, cloud.Wrap(cloud.CodeOf(err), op, err)
	}
	body, err := prepare(p, l.local)
	if err != nil {
		return nil, cloud.Wrap(cloud.InvalidArgument, op, err)
	}

	req := &visionpb.BatchAnnotateImagesRequest{Requests: []*visionpb.AnnotateImageRequest{{
		Image:    &visionpb.Image{Content: body.data},
		Features: l.features,
	}}}
	resp, err := l.call(ctx, req)
	if err != nil {
		return nil, err
	}

	// A batch of one with nothing in it is a photo with nothing found.
	if len(resp.GetResponses()) == 0 {
		return []cloud.Label{}, nil
	}
	r := resp.GetResponses()[0]
	if err := imageError(r.GetError()); err != nil {
		return nil, err
	}
	return cloud.MergeLabels(labelsOf(r, body), l.threshold), nil
}
