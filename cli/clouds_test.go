package cli_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cli"
	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/internal/emulator"
	"github.com/multicloud/multicloud/internal/localclouds"
)

// The whole job with every role on a cloud provider, each cloud a real server
// on loopback (s3rver, cosmosdb-server, the Vision-compatible server): the
// same photos give the same records, searches and labels as on the embedded
// default.
func TestThreeCloudsEndToEnd(t *testing.T) {
	requireModel(t)
	for _, bin := range []string{"s3rver", "cosmosdb-server"} {
		if _, err := emulator.NodeBinPath(bin); err != nil {
			emulator.Missing(t, err.Error())
		}
	}
	l, err := ondevice.Open(ondevice.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	clouds, err := localclouds.StartAll(t.TempDir(), l)
	if err != nil {
		t.Fatal(err)
	}
	defer clouds.Stop()
	for _, kv := range clouds.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cloudCfg := filepath.Join(t.TempDir(), "clouds.toml")
	if _, err := clouds.WriteConfig(cloudCfg); err != nil {
		t.Fatal(err)
	}

	photos, _ := filepath.Glob(filepath.Join(roletest.PhotosDir(t), "*"))
	importAll := func(args ...string) map[string]map[string]any {
		out, errs, code := runCfg(t, append(args, append([]string{"import", "--json"},
			photos...)...)...)
		if code != 1 || !strings.Contains(errs, "truncated.jpg") {
			t.Fatalf("import: exit %d (want 1, for truncated.jpg)\n%s", code, errs)
		}
		byName := map[string]map[string]any{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			if m["error"] == nil {
				byName[m["name"].(string)] = m
			}
		}
		return byName
	}
	embedded := []string{"--data", t.TempDir(), "--config", emptySettings(t, t.TempDir())}
	inClouds := []string{"--data", t.TempDir(), "--config", cloudCfg}
	local := importAll(embedded...)
	remote := importAll(inClouds...)

	if len(remote) != len(local) || len(remote) < 9 {
		t.Fatalf("%d photos recorded in the clouds, %d locally", len(remote), len(local))
	}
	for name, r := range remote {
		lrec := local[name]
		if r["id"] != lrec["id"] || r["sha256"] != lrec["sha256"] || r["bytes"] != lrec["bytes"] {
			t.Errorf("%s: cloud record %v differs from the local one %v", name, r["id"], lrec["id"])
		}
		if !strings.HasPrefix(r["url"].(string), "s3://multicloud-demo/") {
			t.Errorf("%s: url %q is not in the S3 bucket", name, r["url"])
		}
		if !strings.HasPrefix(r["labeller"].(string), "vision:") {
			t.Errorf("%s: labeller %q is not the Vision provider", name, r["labeller"])
		}
		if got, want := labelNames(r), labelNames(lrec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: labels %v through Vision, %v on-device", name, got, want)
		}
	}

	// Listing and searching read back from the Cosmos server, and agree with
	// the embedded catalogue.
	for _, label := range []string{"", "person", "cup", "cat", "horse"} {
		args := []string{"list", "--json", "--limit", "0"}
		if label != "" {
			args = append(args, "--label", label)
		}
		if got, want := listIDs(t, inClouds, args), listIDs(t, embedded, args); !reflect.DeepEqual(
			got, want) || len(got) == 0 {
			t.Errorf("list %v: clouds %v, embedded %v", args[3:], got, want)
		}
	}
}

func runCfg(t *testing.T, args ...string) (string, string, int) {
	var out, errb strings.Builder
	code := cli.Main(args, cli.Env{Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), code
}

func labelNames(m map[string]any) []string {
	var names []string
	labels, _ := m["labels"].([]any)
	for _, l := range labels {
		names = append(names, l.(map[string]any)["name"].(string))
	}
	sort.Strings(names)
	return names
}

func listIDs(t *testing.T, globals, args []string) []string {
	out, errs, code := runCfg(t, append(append([]string{}, globals...), args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			ids = append(ids, m["id"].(string))
		}
	}
	sort.Strings(ids) // the two imports ran at different moments; compare sets
	return ids
}
