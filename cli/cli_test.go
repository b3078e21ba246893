package cli_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cli"
	"github.com/multicloud/multicloud/cloud/roletest"
)

// run invokes the command line as a person would, with its own data folder
// and an empty settings file (the embedded default).
func run(t *testing.T, data string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cfg := emptySettings(t, data)
	full := append([]string{"--data", data, "--config", cfg}, args...)
	code = cli.Main(full, cli.Env{Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), code
}

func TestHelpListsCommands(t *testing.T) {
	out, _, code := run(t, t.TempDir(), "--help")
	for _, want := range []string{"import", "list", "show", "delete", "--data", "--config"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	if code != 0 {
		t.Errorf("--help exit %d", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errs, code := run(t, t.TempDir(), "impotr", "x.jpg")
	if code != 2 || !strings.Contains(errs, `unknown command "impotr"`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestNoWindowInThisBuild(t *testing.T) {
	_, errs, code := run(t, t.TempDir())
	if code != 1 || !strings.Contains(errs, "window") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestShowUnknownID(t *testing.T) {
	_, errs, code := run(t, t.TempDir(), "show", "nope")
	if code != 1 || !strings.Contains(errs, `no record with ID "nope"`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestBadSettingsFileNamesTheProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.toml")
	os.WriteFile(cfg, []byte("[store]\nprovider = \"floppy\"\n"), 0o644)
	var out, errb bytes.Buffer
	code := cli.Main([]string{"--data", dir, "--config", cfg, "list"},
		cli.Env{Stdout: &out, Stderr: &errb})
	if code != 1 || !strings.Contains(errb.String(), `store provider "floppy"`) {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

// The whole job on the embedded default, as the README shows it: import the
// shared photographs with the real on-device model, then find them by label.
func TestImportListShowDelete(t *testing.T) {
	photos := roletest.PhotosDir(t)
	requireModel(t)
	data := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(photos, "*"))
	files = append(files, filepath.Join(data, "missing.jpg"), writeFile(t, data, "empty.jpg", ""),
		writeFile(t, data, "notes.jpg", "shopping list: milk, eggs"))

	out, errs, code := run(t, data, append([]string{"import", "--json"}, files...)...)
	if code != 1 {
		t.Errorf("import with bad files exited %d, want 1", code)
	}
	byName := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("import --json printed a line that is not JSON: %q", line)
		}
		byName[filepath.Base(m["file"].(string))] = m
	}
	for name, label := range map[string]string{"astronaut.png": "person", "coffee.png": "cup",
		"horse.png": "horse"} {
		if !hasLabel(byName[name], label) {
			t.Errorf("%s: want label %q, got %v", name, label, byName[name]["labels"])
		}
	}
	for name, reason := range map[string]string{"truncated.jpg": "truncated",
		"missing.jpg": "no such file", "empty.jpg": "empty", "notes.jpg": "not a JPEG"} {
		m := byName[name]
		if m == nil || !strings.Contains(m["error"].(string), reason) {
			t.Errorf("%s: want an error saying %q, got %v", name, reason, m)
		}
		if !strings.Contains(errs, name+": ") {
			t.Errorf("stderr does not name %s: %s", name, errs)
		}
		if m != nil && m["id"] != nil {
			t.Errorf("%s: a failed file has a record", name)
		}
	}

	imported := 0
	for _, m := range byName {
		if m["error"] == nil {
			imported++
		}
	}
	// Importing again adds no record.
	before := countRecords(t, data)
	out, _, _ = run(t, data, append([]string{"import", "--json"}, files...)...)
	if after := countRecords(t, data); after != before || before != imported || imported < 9 {
		t.Errorf("records: %d after the first import, %d after the second; want %d both times",
			before, after, imported)
	}
	if n := strings.Count(out, `"duplicate":true`); n != imported {
		t.Errorf("the second import reported %d duplicates, want %d", n, imported)
	}

	out, _, code = run(t, data, "list", "--label", "person", "--json")
	if code != 0 || !strings.Contains(out, `"name":"astronaut.png"`) {
		t.Errorf("list --label person (exit %d):\n%s", code, out)
	}
	_, errs, code = run(t, data, "list", "--label", "unicorn")
	if code != 1 || !strings.Contains(errs, `unknown label "unicorn"`) {
		t.Errorf("list --label unicorn: exit %d, %q", code, errs)
	}

	id := byName["coffee.png"]["id"].(string)
	out, _, code = run(t, data, "show", id)
	if code != 0 || !strings.Contains(out, "cup") || !strings.Contains(out, "coffee.png") {
		t.Errorf("show %s (exit %d):\n%s", id, code, out)
	}
	if _, errs, code = run(t, data, "delete", id); code != 0 {
		t.Fatalf("delete: %d %s", code, errs)
	}
	if _, _, code = run(t, data, "show", id); code != 1 {
		t.Errorf("show after delete exited %d", code)
	}
}

func hasLabel(m map[string]any, want string) bool {
	labels, _ := m["labels"].([]any)
	for _, l := range labels {
		if l.(map[string]any)["name"] == want {
			return true
		}
	}
	return false
}

func countRecords(t *testing.T, data string) int {
	out, _, _ := run(t, data, "list", "--json", "--limit", "0")
	return strings.Count(out, "\n")
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func quietEnv() cli.Env {
	return cli.Env{Stdout: io.Discard, Stderr: io.Discard}
}

// emptySettings is a settings file with nothing in it: the embedded default.
func emptySettings(tb testing.TB, dir string) string {
	p := filepath.Join(dir, "empty.toml")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// A settings file named on the command line must exist: a typo in its path
// must not quietly run on the defaults.
func TestNamedSettingsFileMustExist(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := cli.Main([]string{"--data", dir, "--config", filepath.Join(dir, "typo.toml"), "list"},
		cli.Env{Stdout: &out, Stderr: &errb})
	if code != 1 || !strings.Contains(errb.String(), "typo.toml") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

// Options may follow the file names, as the usage says.
func TestOptionsAfterArguments(t *testing.T) {
	data := t.TempDir()
	_, errs, code := run(t, data, "import", filepath.Join(data, "missing.jpg"), "--json")
	if code != 1 || strings.Contains(errs, "--json") || !strings.Contains(errs, "missing.jpg") {
		t.Errorf("exit %d, stderr %q: --json was taken for a file", code, errs)
	}
	_, errs, _ = run(t, data, "import", "--", "--json")
	if !strings.Contains(errs, "--json: no such file") {
		t.Errorf("after --, --json must be a file name: %q", errs)
	}
}
