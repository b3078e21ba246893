package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multicloud/multicloud/cli"
	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/visionserver"
)

// A person points the labeller at the local Vision server in the settings
// and imports a photo: the record carries the server's labels and names the
// Vision provider as its labeller.
func TestImportThroughVisionServer(t *testing.T) {
	photos := roletest.PhotosDir(t)
	requireModel(t)
	l, err := ondevice.Open(ondevice.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lis, err := visionserver.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- visionserver.Serve(ctx, lis, visionserver.New(l, visionserver.Options{})) }()
	defer func() {
		cancel()
		<-done
	}()
	addr := lis.Addr().String()

	data := t.TempDir()
	cfg := writeFile(t, data, "vision.conf", fmt.Sprintf(`[labeller]
provider = "vision"

[labeller.vision]
endpoint = %q
insecure = true
objects = true
timeout = "20s"
`, addr))
	var out, errb bytes.Buffer
	code := cli.Main([]string{"--data", data, "--config", cfg, "import", "--json",
		filepath.Join(photos, "coffee.png")}, cli.Env{Stdout: &out, Stderr: &errb})
	if code != 0 {
		t.Fatalf("import exited %d: %s", code, errb.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("import --json printed %q: %v", out.String(), err)
	}
	if !hasLabel(rec, "cup") {
		t.Errorf("labels %v; want cup", rec["labels"])
	}
	if rec["labeller"] != "vision:"+addr {
		t.Errorf("labeller %v; want vision:%s", rec["labeller"], addr)
	}

	// The record is found by the same search as one from the on-device model.
	out.Reset()
	code = cli.Main([]string{"--data", data, "--config", cfg, "list", "--label", "cup",
		"--json"}, cli.Env{Stdout: &out, Stderr: &errb})
	if code != 0 || !strings.Contains(out.String(), `"name":"coffee.png"`) {
		t.Errorf("list --label cup (exit %d): %s", code, out.String())
	}
}

func TestImportWithVisionServerDown(t *testing.T) {
	photos := roletest.PhotosDir(t)
	data := t.TempDir()
	// Port 1 on loopback: nothing listens there.
	cfg := writeFile(t, data, "vision.conf", "[labeller]\nprovider = \"vision\"\n"+
		"[labeller.vision]\nendpoint = \"127.0.0.1:1\"\ninsecure = true\ntimeout = \"5s\"\n")
	var out, errb bytes.Buffer
	code := cli.Main([]string{"--data", data, "--config", cfg, "import",
		filepath.Join(photos, "coffee.png")}, cli.Env{Stdout: &out, Stderr: &errb})
	if code != 1 || !strings.Contains(errb.String(), "unavailable") &&
		!strings.Contains(errb.String(), "Unavailable") {
		t.Errorf("exit %d, stderr %q; want the photo failed as unavailable", code, errb.String())
	}
}

func TestVisionSettingsAreChecked(t *testing.T) {
	data := t.TempDir()
	for conf, says := range map[string]string{
		"endpoint = \"10.1.2.3:50051\"\ninsecure = true": "only allowed for a server on this",
		"timeout = \"soon\"":                             `timeout "soon"`,
	} {
		cfg := writeFile(t, data, "vision.conf", "[labeller]\nprovider = \"vision\"\n"+
			"[labeller.vision]\n"+conf+"\n")
		_, errs, code := runWith(t, data, cfg, "import", filepath.Join(data, "vision.conf"))
		if code != 1 || !strings.Contains(errs, says) {
			t.Errorf("%s: exit %d, stderr %q; want it to say %q", conf, code, errs, says)
		}
	}
}

func TestServeRefusesPublicAddress(t *testing.T) {
	data := t.TempDir()
	_, errs, code := run(t, data, "serve", "vision", "--addr", "0.0.0.0:50051")
	if code != 1 || !strings.Contains(errs, "--public") {
		t.Errorf("exit %d, stderr %q; want a refusal naming --public", code, errs)
	}
	_, errs, code = run(t, data, "serve")
	if code != 2 || !strings.Contains(errs, "serve vision") {
		t.Errorf("serve without an API: exit %d, stderr %q", code, errs)
	}
	_, errs, code = run(t, data, "serve", "vision", "extra")
	if code != 2 || !strings.Contains(errs, `"extra"`) {
		t.Errorf("serve vision extra: exit %d, stderr %q", code, errs)
	}
}

func runWith(t *testing.T, data, cfg string, args ...string) (stdout, stderr string,
	code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(append([]string{"--data", data, "--config", cfg}, args...),
		cli.Env{Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), code
}
