package function

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/BurntSushi/toml"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/cosmoscat"
	"github.com/multicloud/multicloud/cloud/gvision"
	"github.com/multicloud/multicloud/cloud/pipeline"
	"github.com/multicloud/multicloud/cloud/s3store"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

// ConfigEnv names the settings file the function reads. In Lambda it is a
// file shipped in the function's package, e.g. /var/task/config.toml (the
// package is unpacked into /var/task, which is also the working directory, so
// relative paths in the file are relative to the package).
const ConfigEnv = "MULTICLOUD_CONFIG"

// SettingsPath is the settings file: $MULTICLOUD_CONFIG, else config.toml in
// the package ($LAMBDA_TASK_ROOT), else config.toml in the working folder.
func SettingsPath() string {
	if p := os.Getenv(ConfigEnv); p != "" {
		return p
	}
	return filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "config.toml")
}

// Settings is Multi-Cloud's settings file (the TOML format of cloud/config) as
// the function reads it.
//
// It is read here rather than by cloud/config because that package opens the
// on-device labeller, whose ONNX Runtime binding needs cgo, and the Lambda
// build has none: importing cloud/config would not compile. Meanwhile this file
// mirrors its format (a test checks that every key matches) and opens the
// cloud providers the same way. Once cloud/config keeps the on-device labeller
// behind a cgo build constraint, the function can call cfg.OpenLabeller and
// cfg.OpenCatalogue and this mirror can go.
//
// What differs, because the function runs without a person at hand: the Cosmos
// DB account key comes from AZURE_COSMOS_KEY only (no OS keyring), the AWS
// profile setting is ignored (the function runs as its execution role), the
// store's provider, bucket and creation settings are ignored (the store is
// the bucket of each event), and a missing file is an error rather than the
// local defaults, which mean nothing in Lambda.
type Settings struct {
	DataDir       string         `toml:"data_dir,omitempty"`
	Owner         string         `toml:"owner,omitempty"`
	MaxMegapixels int            `toml:"max_megapixels,omitempty"`
	Camera        map[string]any `toml:"camera"` // the window's; not used here
	Store         struct {
		Provider string `toml:"provider,omitempty"`
		Dir      string `toml:"dir,omitempty"`
		S3       struct {
			Bucket       string `toml:"bucket,omitempty"`
			Prefix       string `toml:"prefix,omitempty"`
			Region       string `toml:"region,omitempty"`
			Endpoint     string `toml:"endpoint,omitempty"`
			PathStyle    bool   `toml:"path_style,omitempty"`
			CreateBucket bool   `toml:"create_bucket,omitempty"`
			Profile      string `toml:"profile,omitempty"`
		} `toml:"s3"`
	} `toml:"store"`
	Labeller struct {
		Provider  string  `toml:"provider,omitempty"`
		Threshold float32 `toml:"threshold,omitempty"`
		ModelDir  string  `toml:"model_dir,omitempty"`
		Faces     bool    `toml:"faces,omitempty"`
		Vision    struct {
			Endpoint        string `toml:"endpoint,omitempty"`
			CredentialsFile string `toml:"credentials_file,omitempty"`
			Insecure        bool   `toml:"insecure,omitempty"`
			MaxResults      int    `toml:"max_results,omitempty"`
			Objects         bool   `toml:"objects,omitempty"`
			Faces           bool   `toml:"faces,omitempty"`
			Timeout         string `toml:"timeout,omitempty"`
		} `toml:"vision"`
	} `toml:"labeller"`
	Catalogue struct {
		Provider string `toml:"provider,omitempty"`
		Path     string `toml:"path,omitempty"`
		Cosmos   struct {
			Endpoint  string `toml:"endpoint,omitempty"`
			Database  string `toml:"database,omitempty"`
			Container string `toml:"container,omitempty"`
			Auth      string `toml:"auth,omitempty"`
			CACert    string `toml:"ca_cert,omitempty"`
			Timeout   string `toml:"timeout,omitempty"`
		} `toml:"cosmos"`
	} `toml:"catalogue"`

	path string
}

// defaultThreshold is cloud/config's DefaultThreshold.
const defaultThreshold = 0.35

// LoadSettings reads the settings file at path. Unlike the app, a missing
// file is an error: the function has no local defaults to fall back on.
func LoadSettings(path string) (*Settings, error) {
	s := &Settings{path: path}
	md, err := toml.DecodeFile(path, s)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("settings %s do not exist: ship a config.toml in the package "+
			"and name it in %s", path, ConfigEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("reading settings %s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		if len(k) == 0 || k[0] != "camera" {
			return nil, fmt.Errorf("settings %s: unknown setting %q", path, k.String())
		}
	}
	switch p := s.Store.Provider; p {
	case "", "local", "s3":
	default:
		return nil, fmt.Errorf("settings %s: store provider %q is not one of local, s3",
			path, p)
	}
	switch p := s.Labeller.Provider; p {
	case "", "ondevice", "vision":
	default:
		return nil, fmt.Errorf("settings %s: labeller provider %q is not one of ondevice, "+
			"vision", path, p)
	}
	switch p := s.Catalogue.Provider; p {
	case "", "sqlite", "cosmos":
	default:
		return nil, fmt.Errorf("settings %s: catalogue provider %q is not one of sqlite, "+
			"cosmos", path, p)
	}
	if t := s.Labeller.Threshold; t < 0 || t > 1 {
		return nil, fmt.Errorf("settings %s: labeller threshold %v is not between 0 and 1",
			path, t)
	}
	return s, nil
}

// Path is the file the settings were read from.
func (s *Settings) Path() string { return s.path }

func (s *Settings) threshold() float32 {
	if s.Labeller.Threshold > 0 {
		return s.Labeller.Threshold
	}
	return defaultThreshold
}

// Open opens the labeller and the catalogue and returns a handler that opens
// each event's bucket when it first sees it. Everything opened is closed
// again when something fails.
func (s *Settings) Open(ctx context.Context) (*Handler, error) {
	l, err := s.OpenLabeller(ctx)
	if err != nil {
		return nil, fmt.Errorf("labeller: %w", err)
	}
	c, err := s.OpenCatalogue(ctx)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	return &Handler{
		Pipeline: pipeline.Pipeline{Labeller: l, Catalogue: c, Owner: s.Owner,
			MaxPixels: s.MaxMegapixels * 1_000_000},
		OpenBucket: s.OpenBucket,
	}, nil
}

// OpenLabeller opens the configured labeller. The on-device one exists only
// in builds with cgo (see ondevice_nocgo.go).
func (s *Settings) OpenLabeller(ctx context.Context) (cloud.Labeller, error) {
	if s.Labeller.Provider != "vision" {
		return openOnDevice(s)
	}
	v := &s.Labeller.Vision
	var timeout time.Duration
	if v.Timeout != "" {
		d, err := time.ParseDuration(v.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("[labeller.vision] timeout %q is not a duration such as "+
				"\"30s\"", v.Timeout)
		}
		timeout = d
	}
	if v.MaxResults < 0 {
		return nil, fmt.Errorf("[labeller.vision] max_results %d is negative", v.MaxResults)
	}
	l, err := gvision.Open(ctx, gvision.Options{
		Endpoint:        v.Endpoint,
		CredentialsFile: v.CredentialsFile,
		Insecure:        v.Insecure,
		MaxResults:      v.MaxResults,
		Objects:         v.Objects,
		Faces:           v.Faces,
		Timeout:         timeout,
		Threshold:       s.threshold(),
	})
	if err != nil {
		return nil, err // not l: a nil *gvision.Labeller in the interface is not nil
	}
	return l, nil
}

// OpenCatalogue opens the configured catalogue. SQLite works (the tests use
// it) but is of little use in Lambda, where a file lives only as long as one
// warm instance.
func (s *Settings) OpenCatalogue(ctx context.Context) (cloud.Catalogue, error) {
	if s.Catalogue.Provider != "cosmos" {
		p := s.Catalogue.Path
		if p == "" && s.DataDir != "" {
			p = filepath.Join(s.DataDir, "catalogue.db")
		}
		if p == "" {
			return nil, fmt.Errorf("settings %s: a SQLite catalogue needs catalogue.path",
				s.path)
		}
		return sqlitecat.Open(p)
	}

	const op = "cosmos settings"
	cfg := &s.Catalogue.Cosmos
	u, err := url.Parse(cfg.Endpoint)
	if cfg.Endpoint == "" || err != nil || u.Host == "" {
		return nil, cloud.Errorf(cloud.InvalidArgument, op, "catalogue.cosmos.endpoint %q is "+
			"not an account URL like https://ACCOUNT.documents.azure.com:443/", cfg.Endpoint)
	}
	o := cosmoscat.Options{Endpoint: cfg.Endpoint, Database: cfg.Database,
		Container: cfg.Container, Owner: s.Owner}
	if cfg.Timeout != "" {
		if o.Timeout, err = time.ParseDuration(cfg.Timeout); err != nil || o.Timeout <= 0 {
			return nil, cloud.Errorf(cloud.InvalidArgument, op,
				"catalogue.cosmos.timeout %q is not a duration like \"30s\"", cfg.Timeout)
		}
	}
	if cfg.CACert != "" {
		if o.HTTPClient, err = trustingClient(cfg.CACert); err != nil {
			return nil, cloud.Wrap(cloud.InvalidArgument, op, err)
		}
	}
	switch cfg.Auth {
	case "", "key":
		k := strings.TrimSpace(os.Getenv(cosmoscat.KeyEnv))
		if k == "" {
			return nil, cloud.Errorf(cloud.PermissionDenied, op, "no Cosmos DB account key: "+
				"set %s (an encrypted environment variable of the function), or set "+
				"catalogue.cosmos.auth = \"entra\"", cosmoscat.KeyEnv)
		}
		o.Key, o.CredentialName = cosmoscat.Key(k), "the account key in "+cosmoscat.KeyEnv
	case "entra":
		var copts azidentity.DefaultAzureCredentialOptions
		if o.HTTPClient != nil {
			copts.ClientOptions = azcore.ClientOptions{Transport: o.HTTPClient}
		}
		if o.Credential, err = azidentity.NewDefaultAzureCredential(&copts); err != nil {
			return nil, cloud.Wrap(cloud.PermissionDenied, op, err)
		}
		o.CredentialName = "the Microsoft Entra identity (AZURE_CLIENT_ID and friends, or " +
			"workload identity federation) and its Cosmos DB data-plane role"
	default:
		return nil, cloud.Errorf(cloud.InvalidArgument, op,
			"catalogue.cosmos.auth %q is not \"key\" or \"entra\"", cfg.Auth)
	}
	return cosmoscat.Open(ctx, o)
}

// OpenBucket opens an event's bucket with the settings' region and endpoint.
// When it is the app's own bucket, the app's prefix is kept so that the keys
// recorded are the ones the app opens.
func (s *Settings) OpenBucket(ctx context.Context, bucket string) (Bucket, error) {
	s3 := &s.Store.S3
	b := Bucket{App: s.Store.Provider == "s3" && s3.Bucket == bucket}
	if b.App {
		b.Prefix = strings.Trim(s3.Prefix, "/")
	}
	st, err := s3store.Open(ctx, s3store.Options{
		Bucket:    bucket,
		Prefix:    b.Prefix,
		Region:    s3.Region,
		Endpoint:  s3.Endpoint,
		PathStyle: s3.PathStyle,
	})
	if err != nil {
		return Bucket{}, err
	}
	b.Store = st
	return b, nil
}

// trustingClient is an HTTP client that trusts the certificate authorities in
// the PEM file path as well as the system's, for a local Cosmos-compatible
// server with its own certificate. Verification stays on.
func trustingClient(path string) (*http.Client, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalogue.cosmos.ca_cert: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("catalogue.cosmos.ca_cert: %s holds no PEM certificate", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}
