package function

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/pipeline"
	"github.com/multicloud/multicloud/cloud/s3store"
)

// ConfigEnv names the settings file the function reads. In Lambda it is a
// file shipped in the function's package, e.g. /var/task/config.toml (the
// package is unpacked into /var/task, which is also the working directory, so
// relative paths in the file are relative to the package).
const ConfigEnv = "MULTICLOUD_CONFIG"

// SettingsPath is the settings file: $MULTICLOUD_CONFIG, else config.toml in
// the package ($LAMBDA_TASK_ROOT).
func SettingsPath() string {
	if p := os.Getenv(ConfigEnv); p != "" {
		return p
	}
	return filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "config.toml")
}

// Open reads the app's settings file at path (see cloud/config) and opens its
// labeller and catalogue; the store is each event's bucket, opened when first
// seen. Unlike the app, a missing file is an error: the local defaults mean
// nothing in Lambda. The Lambda build has no cgo and so no on-device
// labeller: it labels with Vision.
func Open(ctx context.Context, path string) (*Handler, error) {
	cfg, err := config.LoadExisting(path)
	if err != nil {
		return nil, fmt.Errorf("%w (ship a config.toml in the package and name it in %s)",
			err, ConfigEnv)
	}
	l, err := cfg.OpenLabeller(ctx)
	if err != nil {
		return nil, fmt.Errorf("labeller: %w", err)
	}
	if cfg.Catalogue.Provider != "cosmos" && cfg.Catalogue.Path == "" && cfg.DataDir == "" {
		l.Close()
		return nil, fmt.Errorf("settings %s: a SQLite catalogue needs catalogue.path", path)
	}
	cfg.ResolveDataDir("")
	c, err := cfg.OpenCatalogue(ctx)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	return &Handler{
		Pipeline: pipeline.Pipeline{Labeller: l, Catalogue: c, Owner: cfg.Owner,
			MaxPixels: cfg.MaxMegapixels * 1_000_000},
		OpenBucket: bucketOpener(cfg),
	}, nil
}

// CheckSettings reads a settings file meant for the function and says what
// would stop the function from starting, before it is packaged and deployed:
// an unknown key, an on-device labeller (the Lambda build has none), a
// SQLite catalogue (a file in Lambda lives only as long as one instance).
func CheckSettings(path string) error {
	cfg, err := config.LoadExisting(path)
	if err != nil {
		return err
	}
	if cfg.Labeller.Provider != "vision" {
		return fmt.Errorf("settings %s: the function labels with Google Cloud Vision only; "+
			"set [labeller] provider = \"vision\"", path)
	}
	if cfg.Catalogue.Provider != "cosmos" {
		return fmt.Errorf("settings %s: the function records in Cosmos DB only (a SQLite file "+
			"would not outlive the instance); set [catalogue] provider = \"cosmos\"", path)
	}
	return nil
}

// bucketOpener opens an event's bucket with the settings' region and
// endpoint. When it is the app's own bucket, the app's prefix is kept so that
// the keys recorded are the ones the app opens. The AWS profile setting is not
// used: the function runs as its execution role.
func bucketOpener(cfg *config.Config) func(context.Context, string) (Bucket, error) {
	s3 := cfg.Store.S3
	return func(ctx context.Context, bucket string) (Bucket, error) {
		b := Bucket{App: cfg.Store.Provider == "s3" && s3.Bucket == bucket}
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
}
