// Package function is Multi-Cloud's S3-triggered function: an AWS Lambda
// handler that labels and records, headlessly, the photos that arrive in a
// bucket any other way than through the app (an upload from a phone, the AWS
// CLI, another program).
//
// S3 sends an event naming each new object; the handler reads the object from
// the event's bucket, checks that it is a photo of a sensible size, and hands
// it to the same pipeline the app runs (cloud/pipeline), marked as already
// stored: it is labelled and recorded where it lies, never copied. A photo the
// catalogue already holds is a duplicate and nothing is done. Records carry
// Source "function".
//
// The labeller and the catalogue come from Multi-Cloud's settings file (the
// TOML of cloud/config), named by MULTICLOUD_CONFIG and shipped in the
// function's package (see settings.go and cmd/bootstrap). The Lambda build has
// no cgo, so it labels with Google Cloud Vision only; the on-device model
// needs ONNX Runtime through cgo.
//
// Failures are sorted by whose fault they are. An object that is bad in
// itself (a truncated JPEG, an image too large to decode) is logged with its
// key and reason and reported in the result, and the invocation succeeds: a
// retry would fail the same way. Any other failure (a service that is down, a
// timeout, a permission the function lacks) makes Handle return an error, so
// that Lambda retries the event and, when retries run out, hands it to the
// function's on-failure destination instead of dropping the photo. Objects of
// the event that were recorded already are duplicates on the retry and cost
// one catalogue read each.
package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
	"github.com/multicloud/multicloud/cloud/pipeline"
)

// Source is the cloud.Record source of every photo the function records.
const Source = "function"

// MaxObjectBytes is the largest object the function reads. Larger objects are
// skipped: a photo is rarely over 30 MiB, and the object is held in memory
// with its decoded pixels.
const MaxObjectBytes = 50 << 20

// Handler handles S3 events. Its zero value is not usable: Pipeline needs a
// labeller and a catalogue, and OpenBucket is required.
type Handler struct {
	// Pipeline holds the labeller, the catalogue, Owner and MaxPixels. Its
	// Store is not used: each object is read from the bucket its event names.
	Pipeline pipeline.Pipeline

	// OpenBucket opens the store of a bucket. What it opens is kept for the
	// next invocations of a warm function and closed by Close.
	OpenBucket func(ctx context.Context, bucket string) (Bucket, error)

	// MaxBytes is the largest object read; 0 means MaxObjectBytes.
	MaxBytes int64

	// Logger receives one line per object; nil means slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	buckets map[string]Bucket
}

// Bucket is the store of one bucket.
type Bucket struct {
	// Store reads the bucket's objects. Its keys are relative to Prefix.
	Store cloud.Store
	// Prefix is where the store's keys start ("" for the whole bucket). It
	// is the app's store.s3.prefix when this is the app's bucket, so that
	// records carry keys the app can open; objects outside it are skipped.
	Prefix string
	// App says the app itself uploads into this bucket. Objects at the keys
	// it makes (YYYY/MM/DD/<sha256>.<ext>) are left to it: it records them
	// itself, and labelling them here too would only race it and pay twice.
	App bool
}

// Status is what became of one object.
type Status string

const (
	// Recorded: labelled and written to the catalogue.
	Recorded Status = "recorded"
	// Duplicate: the catalogue already held this photo; nothing was done.
	Duplicate Status = "duplicate"
	// Skipped: not a photo, too large, gone, or not for the function.
	Skipped Status = "skipped"
	// Failed: the object is bad in itself (a truncated or corrupt image). It
	// is not retried.
	Failed Status = "failed"
	// Retry: something other than the object failed; Handle returns an error
	// so that Lambda delivers the event again.
	Retry Status = "retry"
)

// Result is what Handle did with each object of an event, in event order. It
// is the function's response when the invocation succeeds, and is logged
// either way.
type Result struct {
	Objects []Outcome `json:"objects"`
}

// Outcome is what became of one object.
type Outcome struct {
	Bucket string   `json:"bucket"`
	Key    string   `json:"key"` // decoded, as stored
	Status Status   `json:"status"`
	ID     string   `json:"id,omitempty"`     // the record's, when recorded or a duplicate
	Labels []string `json:"labels,omitempty"` // when recorded
	Reason string   `json:"reason,omitempty"` // when skipped, failed or to be retried
}

// Count is how many objects ended with status s.
func (r Result) Count(s Status) int {
	n := 0
	for _, o := range r.Objects {
		if o.Status == s {
			n++
		}
	}
	return n
}

// photoTypes are the sniffed content types the pipeline decodes.
var photoTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true,
	"image/webp": true, "image/bmp": true}

// appKey is the layout of pipeline.ObjectKey.
var appKey = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/[0-9a-f]{64}\.(jpg|png|gif|webp|bmp)$`)

// Handle labels and records the photos of an S3 event. It returns an error
// only when some object failed for a reason other than the object itself, so
// that Lambda retries the event; the Result says what became of every object.
func (h *Handler) Handle(ctx context.Context, ev events.S3Event) (Result, error) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("request", lc.AwsRequestID)
	}

	res := Result{Objects: make([]Outcome, 0, len(ev.Records))}
	var retry []error
	for _, rec := range ev.Records {
		o, err := h.object(ctx, rec)
		res.Objects = append(res.Objects, o)
		attrs := []any{"bucket", o.Bucket, "key", o.Key}
		switch o.Status {
		case Recorded:
			log.Info("recorded", append(attrs, "id", o.ID, "labels", o.Labels)...)
		case Duplicate:
			log.Info("already in the catalogue", append(attrs, "id", o.ID)...)
		case Skipped:
			log.Info("skipped", append(attrs, "reason", o.Reason)...)
		case Failed:
			log.Error("not a usable photo; it will not be retried",
				append(attrs, "reason", o.Reason)...)
		case Retry:
			log.Warn("failed; the event will be retried", append(attrs, "reason", o.Reason)...)
			retry = append(retry, fmt.Errorf("%s: %w", o.Key, err))
		}
	}
	// One line per invocation, for a CloudWatch metric filter or a glance.
	log.Info("event handled", "objects", len(res.Objects), "recorded", res.Count(Recorded),
		"duplicates", res.Count(Duplicate), "skipped", res.Count(Skipped),
		"failed", res.Count(Failed), "retry", res.Count(Retry))
	if len(retry) > 0 {
		return res, fmt.Errorf("%d of %d objects failed and may succeed when Lambda retries: %w",
			len(retry), len(res.Objects), errors.Join(retry...))
	}
	return res, nil
}

// object handles one record of the event. The error is set with Retry only.
func (h *Handler) object(ctx context.Context, rec events.S3EventRecord) (Outcome, error) {
	o := Outcome{Bucket: rec.S3.Bucket.Name, Key: rec.S3.Object.Key}
	skip := func(reason string, args ...any) (Outcome, error) {
		o.Status, o.Reason = Skipped, fmt.Sprintf(reason, args...)
		return o, nil
	}
	if ev := rec.EventName; ev != "" && !strings.HasPrefix(ev, "ObjectCreated:") {
		return skip("event %s is not a new object", ev)
	}
	// S3 sends keys form-encoded: "+" is a space, and "%2B" a plus.
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil || o.Bucket == "" || key == "" {
		o.Status, o.Reason = Failed, fmt.Sprintf("the event names no usable object "+
			"(bucket %q, key %q)", o.Bucket, rec.S3.Object.Key)
		return o, nil
	}
	o.Key = key
	if !photo.IsPhotoName(key) {
		return skip("the name does not end in %s", strings.Join(photo.Extensions, ", "))
	}

	b, err := h.bucket(ctx, o.Bucket)
	if err != nil {
		// Never the object's fault, whatever the code says: the settings or
		// the function's permissions are wrong, and the event must be kept.
		o.Status, o.Reason = Retry, err.Error()
		return o, err
	}
	rel := key
	if b.Prefix != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(key, b.Prefix+"/"); !ok {
			return skip("outside the app's prefix %q/, where the app could not show it",
				b.Prefix)
		}
	}
	if b.App && appKey.MatchString(rel) {
		return skip("the app's own upload, which the app records itself")
	}

	max := h.MaxBytes
	if max <= 0 {
		max = MaxObjectBytes
	}
	obj, err := b.Store.Stat(ctx, rel)
	if err != nil {
		return h.failed(o, err)
	}
	if obj.Size > max {
		return skip("%d bytes, more than the %d the function reads", obj.Size, max)
	}
	data, err := read(ctx, b.Store, rel, max)
	if err != nil {
		return h.failed(o, err)
	}
	if int64(len(data)) > max {
		return skip("more than the %d bytes the function reads (it grew after its HEAD)",
			max)
	}
	if ct := http.DetectContentType(data); !photoTypes[ct] {
		return skip("the content is %s, not a JPEG, PNG, GIF, WebP or BMP image", ct)
	}

	p := h.Pipeline
	p.Store = b.Store
	job, err := p.PrepareStored(pipeline.Input{Data: data, Name: path.Base(key),
		Source: Source}, rel, b.Store.URL(rel))
	if err != nil {
		return h.failed(o, err)
	}
	if !obj.ModTime.IsZero() {
		// When the photo arrived, not when it was labelled, so that the
		// gallery shows it among the photos taken around then.
		job.CreatedAt = obj.ModTime.UTC()
	}
	if err := p.RunStored(ctx, job, nil); err != nil {
		return h.failed(o, err)
	}
	o.ID = job.ID
	if job.Duplicate {
		o.Status = Duplicate
		return o, nil
	}
	o.Status = Recorded
	for _, l := range job.Record.Labels {
		o.Labels = append(o.Labels, l.Name)
	}
	return o, nil
}

// failed sorts a failure: the object's own fault is Failed (or Skipped when
// it is gone), anything else is Retry.
func (h *Handler) failed(o Outcome, err error) (Outcome, error) {
	o.Reason = err.Error()
	switch cloud.CodeOf(err) {
	case cloud.InvalidArgument:
		o.Status = Failed
		return o, nil
	case cloud.NotFound:
		// Deleted since the event was sent; a later event will say so.
		o.Status, o.Reason = Skipped, "the object is gone: "+o.Reason
		return o, nil
	}
	o.Status = Retry
	return o, err
}

func read(ctx context.Context, st cloud.Store, key string, max int64) ([]byte, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		// A connection cut mid-object: worth another try.
		return nil, cloud.Wrap(cloud.Unavailable, "reading "+key, err)
	}
	return data, nil
}

func (h *Handler) bucket(ctx context.Context, name string) (Bucket, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.buckets[name]; ok {
		return b, nil
	}
	if h.OpenBucket == nil {
		return Bucket{}, cloud.Errorf(cloud.FailedPrecondition, "function",
			"the handler has no way to open bucket %q", name)
	}
	b, err := h.OpenBucket(ctx, name)
	if err != nil {
		return Bucket{}, err
	}
	if h.buckets == nil {
		h.buckets = map[string]Bucket{}
	}
	h.buckets[name] = b
	return b, nil
}

// Close closes the labeller, the catalogue and every store the handler opened.
func (h *Handler) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, b := range h.buckets {
		errs = append(errs, b.Store.Close())
	}
	h.buckets = nil
	if h.Pipeline.Labeller != nil {
		errs = append(errs, h.Pipeline.Labeller.Close())
	}
	if h.Pipeline.Catalogue != nil {
		errs = append(errs, h.Pipeline.Catalogue.Close())
	}
	return errors.Join(errs...)
}
