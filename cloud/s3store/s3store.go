// Package s3store keeps photos in Amazon S3, or in any server that speaks the
// S3 API, through the AWS SDK for Go v2.
//
// Credentials come only from the SDK's standard chain (environment, shared
// config and AWS_PROFILE, SSO, instance roles): the app never stores a key.
//
// Integrity: against AWS the SDK's default checksums are used. Against a
// custom endpoint, checksums are sent only when an operation requires them,
// because recent SDKs send "aws-chunked" bodies with trailing checksums that
// several S3-compatible servers store verbatim, corrupting the object; a
// Content-MD5 header is sent instead, which every such server checks. After a
// put the object's size (and, for a single-part upload, its ETag against the
// MD5) is verified rather than trusted.
//
// Records keep a stable s3://bucket/key URL; a person viewing a photo gets a
// short-lived presigned GET made on demand, which is never stored or logged.
package s3store

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/multicloud/multicloud/cloud"
)

// Options configure Open.
type Options struct {
	Bucket string
	// Prefix is prepended to every key ("photos/" → photos/2026/…).
	Prefix string
	Region string
	// Endpoint points at an S3-compatible server instead of AWS.
	Endpoint  string
	PathStyle bool
	// CreateBucket creates the bucket when it does not exist.
	CreateBucket bool
	// Profile picks a profile of the shared AWS config files.
	Profile string
	// Credentials overrides the SDK's chain; for tests against local servers.
	Credentials aws.CredentialsProvider
	// MultipartThreshold is the size from which uploads go in parts through
	// the transfer manager; 0 means 16 MiB.
	MultipartThreshold int64
	// MaxAttempts bounds the SDK's retries of one call; 0 means 5.
	MaxAttempts int
}

// Store is a cloud.Store on one bucket.
type Store struct {
	opts     Options
	client   *s3.Client
	tm       *transfermanager.Client
	presign  *s3.PresignClient
	custom   bool // a non-AWS endpoint
	endpoint *url.URL
}

var _ cloud.Store = (*Store)(nil)

// Open connects to the bucket, checking that it exists (or creating it).
func Open(ctx context.Context, o Options) (*Store, error) {
	const op = "s3 open"
	if o.Bucket == "" {
		return nil, cloud.Errorf(cloud.InvalidArgument, op,
			"no bucket is configured (set bucket under [store.s3])")
	}
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = 16 << 20
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	var loadOpts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loadOpts = append(loadOpts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(o.Credentials))
	}
	loadOpts = append(loadOpts, awsconfig.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(ro *retry.StandardOptions) {
			ro.MaxAttempts = o.MaxAttempts
		})
	}))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &Store{opts: o, custom: o.Endpoint != ""}
	if s.custom {
		if s.endpoint, err = url.Parse(o.Endpoint); err != nil || s.endpoint.Host == "" {
			return nil, cloud.Errorf(cloud.InvalidArgument, op, "endpoint %q is not a URL",
				o.Endpoint)
		}
	}
	s.client = s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		if s.custom {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	// The transfer manager has its own checksum setting, which overrides the
	// client's: both must say the same.
	s.tm = transfermanager.New(s.client, func(to *transfermanager.Options) {
		to.MultipartUploadThreshold = o.MultipartThreshold
		if s.custom {
			to.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			to.DisableChecksumValidation = true
		}
	})
	s.presign = s3.NewPresignClient(s.client)
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.opts.Bucket})
	if err == nil {
		return nil
	}
	if mapErr("s3 HeadBucket", err) != nil && !isNotFound(err) {
		return mapErr("s3 HeadBucket", err)
	}
	if !s.opts.CreateBucket {
		return cloud.Errorf(cloud.FailedPrecondition, "s3 open",
			"bucket %q does not exist (create it, or set create_bucket = true)", s.opts.Bucket)
	}
	in := &s3.CreateBucketInput{Bucket: &s.opts.Bucket}
	if r := s.client.Options().Region; r != "" && r != "us-east-1" && !s.custom {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(r)}
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			return mapErr("s3 CreateBucket", err)
		}
	}
	return nil
}

// Name implements cloud.Store.
func (s *Store) Name() string {
	if s.custom {
		return "s3:" + s.endpoint.Host + "/" + s.opts.Bucket
	}
	return "s3:" + s.opts.Bucket
}

// Close implements cloud.Store.
func (s *Store) Close() error { return nil }

func (s *Store) objectKey(key string) string {
	if s.opts.Prefix == "" {
		return key
	}
	return strings.TrimSuffix(s.opts.Prefix, "/") + "/" + key
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return cloud.Errorf(cloud.InvalidArgument, "s3",
			"key %q must be a relative name that does not end in /", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return cloud.Errorf(cloud.InvalidArgument, "s3",
				"key %q has an empty, '.' or '..' segment", key)
		}
	}
	return nil
}

// Put implements cloud.Store.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker,
	opts cloud.PutOptions) (cloud.Object, error) {
	if err := checkKey(key); err != nil {
		return cloud.Object{}, err
	}
	size, err := body.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = body.Seek(0, io.SeekStart)
	}
	if err != nil {
		return cloud.Object{}, cloud.Wrap(cloud.InvalidArgument, "s3 put", err)
	}
	var ct *string
	if opts.ContentType != "" {
		ct = aws.String(opts.ContentType)
	}
	k := s.objectKey(key)
	var etag, wantMD5 string
	if size < s.opts.MultipartThreshold {
		// One request. The body is seekable, so a retry after a 503 SlowDown
		// sends the whole photo again from its start.
		in := &s3.PutObjectInput{Bucket: &s.opts.Bucket, Key: &k, Body: body,
			ContentLength: aws.Int64(size), ContentType: ct}
		if s.custom {
			sum, err := md5Of(body)
			if err != nil {
				return cloud.Object{}, cloud.Wrap(cloud.InvalidArgument, "s3 put", err)
			}
			in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(sum))
			wantMD5 = hex.EncodeToString(sum)
		}
		out, err := s.client.PutObject(ctx, in)
		if err != nil {
			return cloud.Object{}, mapErr("s3 PutObject", err)
		}
		etag = aws.ToString(out.ETag)
	} else {
		out, err := s.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: &s.opts.Bucket, Key: &k, Body: body, ContentType: ct})
		if err != nil {
			return cloud.Object{}, mapErr("s3 UploadObject", err)
		}
		etag = aws.ToString(out.ETag)
	}

	obj, err := s.Stat(ctx, key)
	if err != nil {
		return cloud.Object{}, fmt.Errorf("checking the upload: %w", err)
	}
	if obj.Size != size {
		return cloud.Object{}, cloud.Errorf(cloud.Unavailable, "s3 put",
			"sent %d bytes for %q but the server holds %d", size, key, obj.Size)
	}
	if wantMD5 != "" && etag != "" && !strings.Contains(etag, "-") &&
		strings.Trim(etag, `"`) != wantMD5 {
		return cloud.Object{}, cloud.Errorf(cloud.Unavailable, "s3 put",
			"the server's checksum of %q (ETag %s) does not match what was sent", key, etag)
	}
	return obj, nil
}

func md5Of(r io.ReadSeeker) ([]byte, error) {
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// Open implements cloud.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	k := s.objectKey(key)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.opts.Bucket, Key: &k})
	if err != nil {
		return nil, mapErr("s3 GetObject", err)
	}
	return out.Body, nil
}

// Stat implements cloud.Store.
func (s *Store) Stat(ctx context.Context, key string) (cloud.Object, error) {
	if err := checkKey(key); err != nil {
		return cloud.Object{}, err
	}
	k := s.objectKey(key)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.opts.Bucket, Key: &k})
	if err != nil {
		return cloud.Object{}, mapErr("s3 HeadObject", err)
	}
	return cloud.Object{
		Key:         key,
		URL:         s.URL(key),
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
	}, nil
}

// Delete implements cloud.Store. S3 answers a delete of a missing key with
// success, which is what the role asks for.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	k := s.objectKey(key)
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.opts.Bucket, Key: &k})
	if isNotFound(err) {
		return nil
	}
	return mapErr("s3 DeleteObject", err)
}

// URL implements cloud.Store: s3://bucket/key, the form the AWS CLI takes.
func (s *Store) URL(key string) string {
	return "s3://" + s.opts.Bucket + "/" + s.objectKey(key)
}

// WebURL is the https address of the object. It works in a browser only for
// public objects; private ones are viewed through Presign.
func (s *Store) WebURL(key string) string {
	esc := escapePath(s.objectKey(key))
	if s.custom {
		u := *s.endpoint
		u.Path = path.Join("/", u.Path, s.opts.Bucket) + "/"
		return u.String() + esc
	}
	region := s.client.Options().Region
	if s.opts.PathStyle {
		return fmt.Sprintf("https://s3.%s.amazonaws.com/%s/%s", region, s.opts.Bucket, esc)
	}
	return fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", s.opts.Bucket, region, esc)
}

func escapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// Presign returns a GET URL for key that expires after ttl, for showing the
// photo. The URL carries a signature: show it, never store or log it.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	k := s.objectKey(key)
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.opts.Bucket,
		Key: &k}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", mapErr("s3 PresignGetObject", err)
	}
	return req.URL, nil
}

// clockSkew tells a refusal caused by a wrong clock. A HEAD request's answer
// has no body to name RequestTimeTooSkewed, so a 403 is compared with the
// server's Date header: S3 refuses requests more than 15 minutes off.
func clockSkew(err error) (time.Duration, bool) {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.HTTPStatusCode() != http.StatusForbidden {
		return 0, false
	}
	date, perr := http.ParseTime(re.Response.Header.Get("Date"))
	if perr != nil {
		return 0, false
	}
	skew := time.Since(date)
	if skew < 0 {
		skew = -skew
	}
	return skew, skew > 15*time.Minute
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nb *types.NoSuchBucket
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nb) {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// mapErr classifies an SDK error so that callers know whether to retry, fix a
// setting or give up, and says what to do in the cases a person can act on.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if c := cloud.CodeOf(err); c == cloud.DeadlineExceeded {
		return cloud.Wrap(c, op, err)
	}
	if skew, ok := clockSkew(err); ok {
		return cloud.Errorf(cloud.FailedPrecondition, op, "the server refused the request "+
			"because this computer's clock is %s off; check the date, time and time zone",
			skew.Round(time.Minute))
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "RequestTimeTooSkewed":
			return cloud.Errorf(cloud.FailedPrecondition, op, "the server refused the request "+
				"because this computer's clock is wrong; check the date, time and time zone "+
				"(%s)", ae.ErrorCode())
		case "NoSuchKey", "NotFound":
			return cloud.Wrap(cloud.NotFound, op, err)
		case "NoSuchBucket":
			return cloud.Wrap(cloud.FailedPrecondition, op, err)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden",
			"ExpiredToken", "InvalidToken":
			return cloud.Errorf(cloud.PermissionDenied, op, "%s: check the AWS credentials "+
				"(AWS_PROFILE, AWS_ACCESS_KEY_ID or the shared config) and the bucket's "+
				"permissions", ae.ErrorCode())
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
			return cloud.Wrap(cloud.Unavailable, op, err)
		case "TooManyRequests", "Throttling", "ThrottlingException":
			return cloud.Wrap(cloud.ResourceExhausted, op, err)
		case "InvalidDigest", "BadDigest", "InvalidArgument", "KeyTooLongError":
			return cloud.Wrap(cloud.InvalidArgument, op, err)
		}
	}
	if isNotFound(err) {
		return cloud.Wrap(cloud.NotFound, op, err)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 401 || code == 403:
			return cloud.Wrap(cloud.PermissionDenied, op, err)
		case code == 429:
			return cloud.Wrap(cloud.ResourceExhausted, op, err)
		case code >= 500:
			return cloud.Wrap(cloud.Unavailable, op, err)
		case code >= 400:
			return cloud.Wrap(cloud.InvalidArgument, op, err)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return cloud.Errorf(cloud.Unavailable, op, "cannot reach the S3 server: %v", err)
	}
	return cloud.Wrap(cloud.Unavailable, op, err)
}
