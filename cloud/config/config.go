// Package config reads Multi-Cloud's settings and opens the provider that
// each role is configured to use.
//
// Settings live in a TOML file, by default config.toml in the user's config
// folder (~/.config/multicloud on Linux, ~/Library/Application Support/multicloud
// on macOS, %LOCALAPPDATA%\multicloud on Windows), or the file named by --config or
// MULTICLOUD_CONFIG. A missing file is the embedded default: a local folder,
// the on-device model and a SQLite catalogue under the data folder. Secrets
// (cloud keys) are never read from or written to this file: providers take
// them from their SDK's standard credential chain or the environment.
package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/adrg/xdg"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/localstore"
	"github.com/multicloud/multicloud/cloud/sqlitecat"
)

// Config is the whole settings file.
type Config struct {
	// DataDir holds local photos, the catalogue and caches. Overridden by
	// --data and MULTICLOUD_DATA.
	DataDir string `toml:"data_dir,omitempty"`
	// Owner is written into every record; it groups one person's uploads.
	Owner string `toml:"owner,omitempty"`
	// MaxMegapixels bounds the size of a photo that is decoded.
	MaxMegapixels int `toml:"max_megapixels,omitempty"`

	Camera    Camera    `toml:"camera"`
	Store     Store     `toml:"store"`
	Labeller  Labeller  `toml:"labeller"`
	Catalogue Catalogue `toml:"catalogue"`

	// path is where the file was read from and will be saved to.
	path string
}

// Camera holds the window's capture settings.
type Camera struct {
	Device    string `toml:"device,omitempty"` // "", "synthetic", "file:DIR", "camera:ID"
	Width     int    `toml:"width,omitempty"`
	Height    int    `toml:"height,omitempty"`
	Mirror    bool   `toml:"mirror,omitempty"`
	Countdown bool   `toml:"countdown,omitempty"`
}

// Store selects and sets up the store role.
type Store struct {
	Provider string `toml:"provider,omitempty"` // "local" (default) or "s3"
	// Dir is the local store's folder; default <data>/photos.
	Dir string `toml:"dir,omitempty"`
	S3  S3     `toml:"s3"`
}

// S3 sets up the Amazon S3 store. Credentials come only from the AWS SDK's
// standard chain (environment, shared config and AWS_PROFILE, SSO, instance
// roles); the app never stores them.
type S3 struct {
	Bucket string `toml:"bucket,omitempty"`
	Prefix string `toml:"prefix,omitempty"` // prepended to every key
	Region string `toml:"region,omitempty"`
	// Endpoint and PathStyle point the store at an S3-compatible server.
	Endpoint     string `toml:"endpoint,omitempty"`
	PathStyle    bool   `toml:"path_style,omitempty"`
	CreateBucket bool   `toml:"create_bucket,omitempty"`
	Profile      string `toml:"profile,omitempty"` // a profile of the shared AWS config
}

// Labeller selects and sets up the labeller role.
type Labeller struct {
	Provider string `toml:"provider,omitempty"` // "ondevice" (default)
	// Threshold drops labels scoring below it; default 0.35.
	Threshold float32 `toml:"threshold,omitempty"`
	// ModelDir holds the on-device model; default: found next to the program.
	ModelDir string `toml:"model_dir,omitempty"`
	// Faces adds face detection to the on-device labeller.
	Faces  bool   `toml:"faces,omitempty"`
	Vision Vision `toml:"vision"`
}

// Vision sets up Google Cloud Vision. Credentials come from Application
// Default Credentials or the key file named here (a path, never the key).
type Vision struct {
	// Endpoint is host:port of the API; empty means Google's.
	Endpoint        string `toml:"endpoint,omitempty"`
	CredentialsFile string `toml:"credentials_file,omitempty"`
	// Insecure talks plain gRPC without TLS or credentials: only for a local
	// Vision-compatible server on loopback.
	Insecure   bool   `toml:"insecure,omitempty"`
	MaxResults int    `toml:"max_results,omitempty"`
	Objects    bool   `toml:"objects,omitempty"` // also OBJECT_LOCALIZATION (boxes)
	Faces      bool   `toml:"faces,omitempty"`   // also FACE_DETECTION
	Timeout    string `toml:"timeout,omitempty"` // overall deadline per photo, e.g. "30s"
}

// Catalogue selects and sets up the catalogue role.
type Catalogue struct {
	Provider string `toml:"provider,omitempty"` // "sqlite" (default) or "cosmos"
	// Path is the SQLite file; default <data>/catalogue.db.
	Path   string `toml:"path,omitempty"`
	Cosmos Cosmos `toml:"cosmos"`
}

// Cosmos sets up Azure Cosmos DB (NoSQL API). The account key comes from the
// environment or the OS keyring, never from this file; or Microsoft Entra ID
// is used through the Azure SDK's default credential chain.
type Cosmos struct {
	Endpoint  string `toml:"endpoint,omitempty"` // https://ACCOUNT.documents.azure.com:443/
	Database  string `toml:"database,omitempty"`
	Container string `toml:"container,omitempty"`
	Auth      string `toml:"auth,omitempty"` // "key" (default) or "entra"
	// CACert is a PEM file of an extra certificate authority to trust, for a
	// local Cosmos-compatible server with its own certificate.
	CACert string `toml:"ca_cert,omitempty"`
	// Timeout bounds each call, waits for throttling included, e.g. "30s".
	Timeout string `toml:"timeout,omitempty"`
}

// DefaultThreshold is the label score below which labels are dropped.
const DefaultThreshold = 0.35

// DefaultPath is where the settings file is looked for.
func DefaultPath() string {
	if p := os.Getenv("MULTICLOUD_CONFIG"); p != "" {
		return p
	}
	return filepath.Join(xdg.ConfigHome, "multicloud", "config.toml")
}

// DefaultDataDir is where local data lives unless configured otherwise.
func DefaultDataDir() string {
	return filepath.Join(xdg.DataHome, "multicloud")
}

// Load reads the settings at path ("" means DefaultPath). A file that does
// not exist gives the defaults; one that cannot be parsed is an error that
// names the line.
func Load(path string) (*Config, error) {
	if path == "" {
		path = DefaultPath()
	}
	c := &Config{path: path}
	md, err := toml.DecodeFile(path, c)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading settings %s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return nil, fmt.Errorf("settings %s: unknown setting %q", path, undec[0].String())
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	checks := []struct {
		role, got string
		ok        []string
	}{
		{"store", c.Store.Provider, []string{"", "local", "s3"}},
		{"labeller", c.Labeller.Provider, []string{"", "ondevice", "vision"}},
		{"catalogue", c.Catalogue.Provider, []string{"", "sqlite", "cosmos"}},
	}
	for _, ch := range checks {
		if !contains(ch.ok, ch.got) {
			return fmt.Errorf("settings %s: %s provider %q is not one of %s", c.path, ch.role,
				ch.got, strings.Join(ch.ok[1:], ", "))
		}
	}
	if t := c.Labeller.Threshold; t < 0 || t > 1 {
		return fmt.Errorf("settings %s: labeller threshold %v is not between 0 and 1", c.path, t)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Path is the file these settings are saved to.
func (c *Config) Path() string { return c.path }

// Save writes the settings back to their file, creating its folder.
func (c *Config) Save() error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, "# Multi-Cloud settings. See the README for every setting.")
	if err := toml.NewEncoder(f).Encode(c); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, c.path)
}

// ResolveDataDir applies the precedence flag > MULTICLOUD_DATA > file > default.
func (c *Config) ResolveDataDir(flag string) string {
	switch {
	case flag != "":
		c.DataDir = flag
	case os.Getenv("MULTICLOUD_DATA") != "":
		c.DataDir = os.Getenv("MULTICLOUD_DATA")
	case c.DataDir == "":
		c.DataDir = DefaultDataDir()
	}
	return c.DataDir
}

// Threshold is the configured label threshold or the default.
func (c *Config) Threshold() float32 {
	if c.Labeller.Threshold > 0 {
		return c.Labeller.Threshold
	}
	return DefaultThreshold
}

// opened passes on what a provider's Open returned, as the role's interface.
// A failed Open gives a nil interface, not one holding a nil pointer, so that
// a caller's nil check (and Roles.Close) does what it says.
func opened[I any, P any](p P, err error) (I, error) {
	var zero I
	if err != nil {
		return zero, err
	}
	return any(p).(I), nil
}

// LoadExisting is Load for a file that must exist: where there is no person
// and no local default to fall back on (the cloud function), a missing file
// is an error.
func LoadExisting(path string) (*Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("settings %s: %w", path, err)
	}
	return Load(path)
}

// Roles are the opened providers.
type Roles struct {
	Store     cloud.Store
	Labeller  cloud.Labeller
	Catalogue cloud.Catalogue
}

// Close closes every role that was opened.
func (r *Roles) Close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{r.Store, r.Labeller, r.Catalogue} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Open opens the provider of each role. Roles that fail to open are closed
// again and the error says which role and why.
func (c *Config) Open(ctx context.Context) (*Roles, error) {
	if c.DataDir == "" {
		c.ResolveDataDir("")
	}
	r := &Roles{}
	var err error
	if r.Store, err = c.OpenStore(ctx); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if r.Catalogue, err = c.OpenCatalogue(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	if r.Labeller, err = c.OpenLabeller(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("labeller: %w", err)
	}
	return r, nil
}

// OpenStore opens the configured store.
func (c *Config) OpenStore(ctx context.Context) (cloud.Store, error) {
	if c.Store.Provider == "s3" {
		return openS3(ctx, &c.Store.S3)
	}
	dir := c.Store.Dir
	if dir == "" {
		dir = filepath.Join(c.DataDir, "photos")
	}
	return opened[cloud.Store](localstore.Open(dir))
}

// OpenCatalogue opens the configured catalogue.
func (c *Config) OpenCatalogue(ctx context.Context) (cloud.Catalogue, error) {
	if c.Catalogue.Provider == "cosmos" {
		return openCosmos(ctx, &c.Catalogue.Cosmos, c.Owner)
	}
	p := c.Catalogue.Path
	if p == "" {
		p = filepath.Join(c.DataDir, "catalogue.db")
	}
	return opened[cloud.Catalogue](sqlitecat.Open(p))
}

// OpenLabeller opens the configured labeller.
func (c *Config) OpenLabeller(ctx context.Context) (cloud.Labeller, error) {
	if c.Labeller.Provider == "vision" {
		return openVision(ctx, &c.Labeller.Vision, c.Threshold())
	}
	return openOnDevice(c)
}
