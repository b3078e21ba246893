package function_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cloud/function"
)

func writeSettings(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The function has no local defaults to fall back on: a missing or wrong
// settings file stops it at start-up with the reason.
func TestOpenSettingsErrors(t *testing.T) {
	_, err := function.Open(context.Background(), filepath.Join(t.TempDir(), "missing.toml"))
	if err == nil || !strings.Contains(err.Error(), function.ConfigEnv) {
		t.Errorf("missing file: %v, want one naming %s", err, function.ConfigEnv)
	}
	for name, body := range map[string]string{
		"unknown key":  "[labeller]\nprovidr = \"vision\"\n",
		"bad provider": "[catalogue]\nprovider = \"dynamo\"\n",
		"threshold":    "[labeller]\nthreshold = 2.0\n",
		"not toml":     "[labeller\n",
		"no sqlite":    "[labeller]\nprovider = \"vision\"\nendpoint = \"127.0.0.1:1\"\n",
	} {
		if _, err := function.Open(context.Background(), writeSettings(t, body)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSettingsPath(t *testing.T) {
	t.Setenv(function.ConfigEnv, "")
	t.Setenv("LAMBDA_TASK_ROOT", "/var/task")
	if p := function.SettingsPath(); p != "/var/task/config.toml" {
		t.Errorf("default path %q", p)
	}
	t.Setenv(function.ConfigEnv, "/opt/multicloud.toml")
	if p := function.SettingsPath(); p != "/opt/multicloud.toml" {
		t.Errorf("with %s set: %q", function.ConfigEnv, p)
	}
}

// The Cosmos DB key is never in the settings file; without it in the
// environment the function says where it must be.
func TestCosmosKeyComesFromTheEnvironment(t *testing.T) {
	t.Setenv("AZURE_COSMOS_KEY", "")
	p := writeSettings(t, `[labeller]
provider = "vision"
[labeller.vision]
endpoint = "127.0.0.1:1"
insecure = true
[catalogue]
provider = "cosmos"
[catalogue.cosmos]
endpoint = "https://127.0.0.1:1/"
`)
	_, err := function.Open(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "AZURE_COSMOS_KEY") {
		t.Errorf("err = %v, want one naming AZURE_COSMOS_KEY", err)
	}
}
