package function_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/function"
)

// tomlKeys lists the dotted TOML keys of a settings struct, tables included.
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		key := prefix + name
		keys = append(keys, key)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(f.Type, key+".")...)
		}
	}
	return keys
}

// The function reads the app's settings file through a mirror of its format
// (see Settings). Every key the app writes must mean the same here, or a
// file that works for the app would be refused, or misread, by the function.
func TestSettingsMirrorTheAppsFormat(t *testing.T) {
	var app []string
	for _, k := range tomlKeys(reflect.TypeOf(config.Config{}), "") {
		if !strings.HasPrefix(k, "camera.") { // the window's; the function ignores it
			app = append(app, k)
		}
	}
	fn := tomlKeys(reflect.TypeOf(function.Settings{}), "")
	slices.Sort(app)
	slices.Sort(fn)
	if !slices.Equal(app, fn) {
		t.Errorf("cloud/config has keys\n%v\nthe function's Settings have\n%v", app, fn)
	}
}

// A file the app saved, with every role on a cloud provider and the window's
// settings too, is read by the function.
func TestLoadSettingsReadsWhatTheAppSaves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Owner, cfg.MaxMegapixels = "ana", 24
	cfg.Camera.Device, cfg.Camera.Mirror = "synthetic", true
	cfg.Store.Provider = "s3"
	cfg.Store.S3 = config.S3{Bucket: "b", Prefix: "photos", Region: "eu-west-1",
		Profile: "me"}
	cfg.Labeller.Provider, cfg.Labeller.Threshold = "vision", 0.5
	cfg.Labeller.Vision = config.Vision{MaxResults: 7, Objects: true, Timeout: "20s"}
	cfg.Catalogue.Provider = "cosmos"
	cfg.Catalogue.Cosmos = config.Cosmos{Endpoint: "https://acct.documents.azure.com:443/",
		Database: "d", Container: "c", Timeout: "15s"}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	s, err := function.LoadSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Owner != "ana" || s.MaxMegapixels != 24 || s.Store.S3.Prefix != "photos" ||
		s.Labeller.Provider != "vision" || s.Labeller.Vision.MaxResults != 7 ||
		s.Catalogue.Cosmos.Container != "c" || s.Path() != path {
		t.Errorf("read %+v", s)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := function.LoadSettings(filepath.Join(dir, "missing.toml"))
	if err == nil || !strings.Contains(err.Error(), function.ConfigEnv) {
		t.Errorf("missing file: %v, want one naming %s", err, function.ConfigEnv)
	}
	for name, body := range map[string]string{
		"unknown key":  "[labeller]\nprovidr = \"vision\"\n",
		"bad provider": "[catalogue]\nprovider = \"dynamo\"\n",
		"threshold":    "[labeller]\nthreshold = 2.0\n",
		"not toml":     "[labeller\n",
	} {
		p := filepath.Join(dir, "x.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := function.LoadSettings(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSettingsPath(t *testing.T) {
	t.Setenv(function.ConfigEnv, "")
	t.Setenv("LAMBDA_TASK_ROOT", "/var/task")
	if p := function.SettingsPath(); p != "/var/task/config.toml" {
		t.Errorf("default %q", p)
	}
	t.Setenv(function.ConfigEnv, "/opt/multicloud.toml")
	if p := function.SettingsPath(); p != "/opt/multicloud.toml" {
		t.Errorf("with %s: %q", function.ConfigEnv, p)
	}
}

// Without the account key the Cosmos catalogue says where to put it, and the
// key never appears in an error.
func TestCosmosKeyComesFromTheEnvironment(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(`[catalogue]
provider = "cosmos"
[catalogue.cosmos]
endpoint = "https://127.0.0.1:1/"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := function.LoadSettings(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_COSMOS_KEY", "")
	_, err = s.OpenCatalogue(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AZURE_COSMOS_KEY") {
		t.Errorf("err = %v, want one naming AZURE_COSMOS_KEY", err)
	}
}
