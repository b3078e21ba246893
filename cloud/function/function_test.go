package function_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/function"
	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/cloud/pipeline"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/s3store"
	"github.com/multicloud/multicloud/internal/emulator"
	"github.com/multicloud/multicloud/internal/localclouds"
)

func TestMain(m *testing.M) {
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// cleanups run once every test is done: the shared model and builds.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func cleanup() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

var model struct {
	once sync.Once
	l    cloud.Labeller
	err  error
}

// onDevice is the on-device labeller, opened once for every test (loading
// the model takes a while). It skips the test, or fails it in CI, when the
// model has not been made.
func onDevice(t testing.TB) cloud.Labeller {
	t.Helper()
	if ondevice.FindModelDir() == "" {
		emulator.Missing(t, "the on-device model is missing; run `make assets`")
	}
	model.once.Do(func() {
		model.l, model.err = ondevice.Open(ondevice.Options{})
		if model.err == nil {
			atExit(func() { model.l.Close() })
		}
	})
	if model.err != nil {
		t.Fatal(model.err)
	}
	return model.l
}

// countingLabeller counts calls, fails while fail is set, and leaves the
// shared labeller open when a handler closes it.
type countingLabeller struct {
	cloud.Labeller
	calls atomic.Int32
	fail  atomic.Bool
}

func (l *countingLabeller) Label(ctx context.Context, p *cloud.Photo) ([]cloud.Label, error) {
	l.calls.Add(1)
	if l.fail.Load() {
		return nil, cloud.Errorf(cloud.Unavailable, "test label", "503 the service is down")
	}
	return l.Labeller.Label(ctx, p)
}

func (l *countingLabeller) Close() error { return nil }

// s3Env points the AWS SDK's default chain at s3rver's well-known key, as a
// Lambda execution role's variables would point it at real credentials.
func s3Env(t *testing.T) {
	for _, kv := range []string{"AWS_ACCESS_KEY_ID=" + localclouds.S3Key,
		"AWS_SECRET_ACCESS_KEY=" + localclouds.S3Key, "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_SESSION_TOKEN=", "AWS_PROFILE="} {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// fixture is s3rver with a bucket, settings pointing at it, and a handler made
// from those settings with a SQLite catalogue and the on-device model.
type fixture struct {
	endpoint string
	bucket   string
	put      *s3store.Store // writes objects as an uploader would
	handler  *function.Handler
	labeller *countingLabeller
}

// newFixture starts s3rver and opens the handler from settings; s3 is added to
// the settings' [store.s3] section.
func newFixture(t *testing.T, s3 string) *fixture {
	t.Helper()
	if _, err := emulator.NodeBinPath("s3rver"); err != nil {
		emulator.Missing(t, err.Error())
	}
	l := &countingLabeller{Labeller: onDevice(t)}
	dir := t.TempDir()
	srv, err := localclouds.S3rver(filepath.Join(dir, "s3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	s3Env(t)
	f := &fixture{endpoint: "http://" + srv.Addr, bucket: "uploads", labeller: l}
	f.put, err = s3store.Open(context.Background(), s3store.Options{Bucket: f.bucket,
		Endpoint: f.endpoint, PathStyle: true, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}

	cfg := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf(`owner = "ana"

[catalogue]
path = %q

[store]
provider = "s3"

[store.s3]
endpoint = %q
path_style = true
`, filepath.Join(dir, "catalogue.db"), f.endpoint) + s3
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	// The settings' own labeller is the same model; the counting one lets
	// the tests see what was labelled.
	f.handler, err = function.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.handler.Pipeline.Labeller.Close()
	f.handler.Pipeline.Labeller = l
	t.Cleanup(func() { f.handler.Close() })
	return f
}

func (f *fixture) putObject(t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := f.put.Put(context.Background(), key, bytes.NewReader(data),
		cloud.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// s3Key encodes a key the way S3 writes it into an event: form-encoded, so
// a space is "+" and a plus "%2B". S3 leaves "/" as it is.
func s3Key(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// s3Event is the event S3 sends for new objects in bucket.
func s3Event(bucket string, keys ...string) events.S3Event {
	var ev events.S3Event
	for _, k := range keys {
		var r events.S3EventRecord
		r.EventSource, r.EventName, r.AWSRegion = "aws:s3", "ObjectCreated:Put", "us-east-1"
		r.S3.Bucket.Name = bucket
		r.S3.Object.Key = s3Key(k)
		ev.Records = append(ev.Records, r)
	}
	return ev
}

func outcomes(r function.Result) map[string]function.Outcome {
	m := map[string]function.Outcome{}
	for _, o := range r.Objects {
		m[o.Key] = o
	}
	return m
}

func allRecords(t *testing.T, c cloud.Catalogue) []*cloud.Record {
	t.Helper()
	page, err := c.List(context.Background(), cloud.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Records
}

// Photos with awkward keys are read, labelled and recorded where they lie;
// what is not a photo is skipped, a truncated photo fails on its own without
// failing the others, and the same event again records nothing new.
func TestHandleRecordsPhotosWithAwkwardKeys(t *testing.T) {
	f := newFixture(t, "")
	const (
		coffee = "incoming/my coffee+cup ☕.png"
		cat    = "incoming/Ünïcødé/chat 1+1=2 & 100%.png"
		broken = "incoming/broken photo.jpg"
		notes  = "incoming/notes.txt"
		fake   = "incoming/fake photo.png"
	)
	f.putObject(t, coffee, roletest.Photo(t, "coffee.png"))
	f.putObject(t, cat, roletest.Photo(t, "chelsea.png"))
	f.putObject(t, broken, roletest.Photo(t, "truncated.jpg"))
	f.putObject(t, notes, []byte("shopping: milk"))
	f.putObject(t, fake, []byte("not a PNG at all, whatever its name says"))
	ev := s3Event(f.bucket, coffee, cat, broken, notes, fake)
	// Some senders also escape the slashes; the key must come out the same.
	ev.Records[1].S3.Object.Key = url.QueryEscape(cat)

	res, err := f.handler.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle: %v (a bad photo must not fail the event)", err)
	}
	got := outcomes(res)
	if len(res.Objects) != 5 {
		t.Fatalf("%d outcomes for 5 objects: %+v", len(res.Objects), res.Objects)
	}
	for key, want := range map[string]struct {
		status function.Status
		label  string
	}{
		coffee: {function.Recorded, "cup"},
		cat:    {function.Recorded, "cat"},
		broken: {function.Failed, ""},
		notes:  {function.Skipped, ""},
		fake:   {function.Skipped, ""},
	} {
		o := got[key]
		if o.Status != want.status || (want.label != "" && !slices.Contains(o.Labels,
			want.label)) {
			t.Errorf("%s: %+v, want %s with %q", key, o, want.status, want.label)
		}
	}
	if r := got[broken].Reason; !strings.Contains(r, "truncated") {
		t.Errorf("the truncated photo's reason %q does not say so", r)
	}

	recs := allRecords(t, f.handler.Pipeline.Catalogue)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, r := range recs {
		o := got[r.Key]
		if r.ID != o.ID || r.Source != "function" || r.Owner != "ana" ||
			r.URL != "s3://uploads/"+r.Key || !strings.HasPrefix(r.Labeller, "ondevice:") ||
			r.Name != filepath.Base(r.Key) || r.CreatedAt.IsZero() {
			t.Errorf("record %+v does not match outcome %+v", r, o)
		}
	}

	// The same event delivered again (S3 delivers at least once).
	calls := f.labeller.calls.Load()
	again, err := f.handler.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if n := again.Count(function.Duplicate); n != 2 {
		t.Errorf("%d duplicates the second time, want 2: %+v", n, again.Objects)
	}
	if n := len(allRecords(t, f.handler.Pipeline.Catalogue)); n != 2 {
		t.Errorf("%d records after the same event twice", n)
	}
	if f.labeller.calls.Load() != calls {
		t.Errorf("duplicates were labelled again")
	}
	// Nothing was copied to a content-derived key.
	if _, err := f.put.Stat(context.Background(), pipeline.ObjectKey(recs[0].CreatedAt,
		recs[0].SHA256, recs[0].ContentType)); !cloud.IsNotFound(err) {
		t.Errorf("the photo was copied inside the bucket: %v", err)
	}
}

// A failure that is not the object's fault (the labelling service down) makes
// Handle return an error so that Lambda retries; the rest of the event is
// still done, and the retry finishes the job without redoing it.
func TestHandleReturnsErrorOnlyForRetryableFailures(t *testing.T) {
	f := newFixture(t, "")
	f.putObject(t, "a/coffee.png", roletest.Photo(t, "coffee.png"))
	f.putObject(t, "a/broken.jpg", roletest.Photo(t, "truncated.jpg"))
	ev := s3Event(f.bucket, "a/coffee.png", "a/broken.jpg")

	f.labeller.fail.Store(true)
	res, err := f.handler.Handle(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "a/coffee.png") {
		t.Fatalf("err = %v, want one naming the photo to retry", err)
	}
	if o := outcomes(res); o["a/coffee.png"].Status != function.Retry ||
		o["a/broken.jpg"].Status != function.Failed {
		t.Fatalf("outcomes %+v", res.Objects)
	}

	f.labeller.fail.Store(false)
	res, err = f.handler.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if o := outcomes(res); o["a/coffee.png"].Status != function.Recorded {
		t.Errorf("retry: %+v", res.Objects)
	}

	// A bucket the function cannot open is not the objects' fault either.
	_, err = f.handler.Handle(context.Background(), s3Event("no-such-bucket", "x.png"))
	if err == nil {
		t.Error("an event for a missing bucket succeeded; it must be retried")
	}
}

// Objects over the size limit are skipped after a HEAD, before being read.
func TestHandleSkipsLargeObjects(t *testing.T) {
	f := newFixture(t, "")
	data := roletest.Photo(t, "coffee.png")
	f.putObject(t, "big.png", data)
	f.handler.MaxBytes = int64(len(data)) - 1
	res, err := f.handler.Handle(context.Background(), s3Event(f.bucket, "big.png"))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Objects[0]; o.Status != function.Skipped || !strings.Contains(o.Reason,
		"bytes") || f.labeller.calls.Load() != 0 {
		t.Errorf("%+v", o)
	}
	if function.MaxObjectBytes != 50<<20 {
		t.Errorf("the default limit is %d bytes, want 50 MiB", function.MaxObjectBytes)
	}
}

// In the app's own bucket the function records keys relative to the app's
// prefix (the ones the app opens), skips what lies outside it, and leaves the
// app's own uploads to the app.
func TestHandleAppBucket(t *testing.T) {
	f := newFixture(t, "bucket = \"uploads\"\nprefix = \"photos/\"\n")
	data := roletest.Photo(t, "coffee.png")
	sha := cloud.SHA256Hex(data)
	appKey := "photos/2026/12/03/" + sha + ".png"
	f.putObject(t, "photos/phone/IMG 1.png", data)
	f.putObject(t, "elsewhere/IMG 2.png", roletest.Photo(t, "horse.png"))
	f.putObject(t, appKey, data)
	res, err := f.handler.Handle(context.Background(),
		s3Event(f.bucket, appKey, "photos/phone/IMG 1.png", "elsewhere/IMG 2.png"))
	if err != nil {
		t.Fatal(err)
	}
	o := outcomes(res)
	if o[appKey].Status != function.Skipped || o["elsewhere/IMG 2.png"].Status !=
		function.Skipped || o["photos/phone/IMG 1.png"].Status != function.Recorded {
		t.Fatalf("%+v", res.Objects)
	}
	rec, err := f.handler.Pipeline.Catalogue.Get(context.Background(), cloud.RecordID(sha))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Key != "phone/IMG 1.png" || rec.URL != "s3://uploads/photos/phone/IMG 1.png" {
		t.Errorf("key %q url %q; the key must be relative to the app's prefix", rec.Key,
			rec.URL)
	}
}

// Events that name no new object, or name it badly, are reported, not fatal.
func TestHandleOddEvents(t *testing.T) {
	f := newFixture(t, "")
	ev := s3Event(f.bucket, "gone.png", "removed.png", "bad.png")
	ev.Records[1].EventName = "ObjectRemoved:Delete"
	ev.Records[2].S3.Object.Key = "bad%zz.png"
	res, err := f.handler.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []function.Status{function.Skipped, function.Skipped, function.Failed}
	for i, o := range res.Objects {
		if o.Status != want[i] {
			t.Errorf("record %d: %+v, want %s", i, o, want[i])
		}
	}
	if !strings.Contains(res.Objects[0].Reason, "gone") {
		t.Errorf("a missing object's reason is %q", res.Objects[0].Reason)
	}
}

// A bucket that cannot be opened is never the object's fault, even when the
// store calls the error an invalid argument (a bad endpoint in the settings):
// the event is kept for a retry.
func TestBucketFailuresAreRetried(t *testing.T) {
	var h function.Handler
	if _, err := h.Handle(context.Background(), s3Event("b", "x.png")); err == nil {
		t.Error("a handler without a bucket opener succeeded")
	}
	h.OpenBucket = func(context.Context, string) (function.Bucket, error) {
		return function.Bucket{}, cloud.Errorf(cloud.InvalidArgument, "s3 open",
			"endpoint %q is not a URL", "::")
	}
	res, err := h.Handle(context.Background(), s3Event("b", "x.png"))
	if err == nil || res.Objects[0].Status != function.Retry {
		t.Errorf("err = %v, outcome %+v", err, res.Objects)
	}
}
