package function_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/function"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/cloud/s3store"
	"github.com/multicloud/multicloud/internal/emulator"
	"github.com/multicloud/multicloud/internal/localclouds"
)

// rieModule is the AWS Lambda Runtime Interface Emulator, the program that
// AWS's base images use to run a function outside Lambda: it serves the
// Runtime API to the bootstrap and an invoke endpoint to the test. The module
// proxy serves only this version.
const (
	rieModule  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

var builds struct {
	once      sync.Once
	bootstrap string
	rie       string
	err       error // the bootstrap does not build: a failure
	rieErr    error // the emulator cannot be had (offline?): Missing
}

// lambdaBinaries builds the real bootstrap (as `make lambda` does, for this
// machine's architecture) and the emulator, once per test binary. The
// emulator is kept in the user's cache folder by version, so later runs only
// check that it is there. Without needRIE, a missing emulator is no reason to
// skip.
func lambdaBinaries(t *testing.T, needRIE bool) (bootstrap, rie string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda runtime emulator and the bootstrap run on Linux only")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		emulator.Missing(t, "the go command is not on PATH; it builds the bootstrap")
	}
	builds.once.Do(func() {
		dir, err := os.MkdirTemp("", "multicloud-lambda-")
		if err != nil {
			builds.err = err
			return
		}
		atExit(func() { os.RemoveAll(dir) })
		builds.bootstrap = filepath.Join(dir, "bootstrap")
		// The flags of `make lambda`, so that both share Go's build cache.
		cmd := exec.Command(goCmd, "build", "-trimpath", "-tags", "lambda.norpc",
			"-ldflags=-s -w", "-o", builds.bootstrap, "./cloud/function/cmd/bootstrap")
		cmd.Dir = emulator.Root()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux",
			"GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			builds.err = fmt.Errorf("building the bootstrap: %v\n%s", err, out)
			return
		}
		builds.rie, builds.rieErr = buildRIE(goCmd)
	})
	if builds.err != nil {
		t.Fatal(builds.err)
	}
	if needRIE && builds.rieErr != nil {
		emulator.Missing(t, builds.rieErr.Error())
	}
	return builds.bootstrap, builds.rie
}

func buildRIE(goCmd string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "multicloud", "aws-lambda-rie", rieVersion)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// `go install module@version` builds it with its own go.mod, outside this
	// module, and the rename makes a half-written binary impossible.
	cmd := exec.Command(goCmd, "install", rieModule+"/cmd/aws-lambda-rie@"+rieVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-buildvcs=false", "GOWORK=off",
		"CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the Lambda runtime emulator %s@%s: %v\n%s",
			rieModule, rieVersion, err, out)
	}
	return bin, os.Rename(filepath.Join(tmp, "aws-lambda-rie"), bin)
}

// The real bootstrap, built as for Lambda, runs under the Runtime Interface
// Emulator against all three clouds on loopback (s3rver, cosmosdb-server and
// the Vision-compatible server): photos uploaded with awkward keys are
// labelled through Vision and recorded in Cosmos DB with Source "function",
// the truncated one is reported and recorded nowhere, and the same event
// again adds nothing.
func TestBootstrapUnderLambdaEmulator(t *testing.T) {
	start := time.Now()
	for _, bin := range []string{"s3rver", "cosmosdb-server"} {
		if _, err := emulator.NodeBinPath(bin); err != nil {
			emulator.Missing(t, err.Error())
		}
	}
	labeller := onDevice(t) // behind the local Vision server
	bootstrap, rie := lambdaBinaries(t, true)
	t.Logf("bootstrap and emulator ready after %v", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	clouds, err := localclouds.StartAll(dir, labeller)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(clouds.Stop)
	for _, kv := range clouds.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	cfg, err := clouds.WriteConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	bucket := cfg.Store.S3.Bucket

	uploader, err := s3store.Open(context.Background(), s3store.Options{Bucket: bucket,
		Endpoint: clouds.S3Endpoint, PathStyle: true, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	const (
		coffee = "uploads/my coffee+cup ☕.png"
		horse  = "uploads/Pferd + Reiter/größer 100%.png"
		broken = "uploads/broken photo.jpg"
		notes  = "uploads/read me.txt"
	)
	for key, photo := range map[string]string{coffee: "coffee.png", horse: "horse.png",
		broken: "truncated.jpg"} {
		if _, err := uploader.Put(context.Background(), key,
			bytes.NewReader(roletest.Photo(t, photo)), cloud.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := uploader.Put(context.Background(), notes,
		strings.NewReader("not a photo"), cloud.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	apiPort := emulator.FreePort(t)
	srv := emulator.Start(t, emulator.Spec{
		Name: "aws-lambda-rie",
		Path: rie,
		// Both of its listeners on loopback: by default it serves invokes on
		// every address.
		Args: []string{
			"--runtime-interface-emulator-address", "127.0.0.1:{port}",
			"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
			bootstrap,
		},
		// The emulator passes its environment on to the function, as Lambda
		// passes the function's configured variables.
		Env: []string{function.ConfigEnv + "=" + cfgPath, "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
			"AWS_LAMBDA_FUNCTION_NAME=multicloud-test"},
	})

	ev := s3Event(bucket, coffee, horse, broken, notes)
	first := invoke(t, srv.Addr, ev)
	got := outcomes(first)
	for key, want := range map[string]function.Status{coffee: function.Recorded,
		horse: function.Recorded, broken: function.Failed, notes: function.Skipped} {
		if got[key].Status != want {
			t.Errorf("%s: %+v, want %s\nemulator output:\n%s", key, got[key], want,
				srv.Output())
		}
	}
	if !slices.Contains(got[coffee].Labels, "cup") || !slices.Contains(got[horse].Labels,
		"horse") {
		t.Errorf("labels: coffee %v, horse %v", got[coffee].Labels, got[horse].Labels)
	}
	if !strings.Contains(got[broken].Reason, "truncated") {
		t.Errorf("the truncated photo's reason is %q", got[broken].Reason)
	}

	// What Cosmos DB holds, read by the app's own catalogue.
	cat, err := cfg.OpenCatalogue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	recs := allRecords(t, cat)
	if len(recs) != 2 {
		t.Fatalf("%d records in Cosmos DB, want 2", len(recs))
	}
	for _, r := range recs {
		o := got[r.Key]
		if r.ID != o.ID || r.Source != "function" || !strings.HasPrefix(r.Labeller, "vision:") ||
			r.URL != "s3://"+bucket+"/"+r.Key {
			t.Errorf("record %+v; outcome %+v", r, o)
		}
	}

	second := invoke(t, srv.Addr, ev)
	if n := second.Count(function.Duplicate); n != 2 {
		t.Errorf("%d duplicates the second time, want 2: %+v", n, second.Objects)
	}
	if n := len(allRecords(t, cat)); n != 2 {
		t.Errorf("%d records after the same event twice", n)
	}

	// The function's own log: JSON lines, the bad photo named with its
	// reason, and no secret.
	logs := srv.Output()
	var sawBroken bool
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["key"] == broken &&
			m["level"] == "ERROR" && strings.Contains(fmt.Sprint(m["reason"]), "truncated") {
			sawBroken = true
		}
	}
	if !sawBroken {
		t.Errorf("no JSON log line names %q and why it failed:\n%s", broken, logs)
	}
	if key := os.Getenv("AZURE_COSMOS_KEY"); strings.Contains(logs, key) ||
		strings.Contains(logs, "X-Amz-Signature") {
		t.Error("the function logged a secret or a signed URL")
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		t.Log(logs)
	}
}

// invoke posts an event to the emulator and decodes the function's result.
func invoke(t *testing.T, addr string, ev events.S3Event) function.Result {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var res function.Result
	if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &res) != nil ||
		len(res.Objects) == 0 {
		t.Fatalf("invoke: %s\n%s", resp.Status, out)
	}
	return res
}

// Built for Lambda, the bootstrap has no on-device labeller, and says so
// when it starts rather than failing each photo.
func TestBootstrapRefusesOnDeviceLabeller(t *testing.T) {
	bootstrap, _ := lambdaBinaries(t, false)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[labeller]\nprovider = \"ondevice\"\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bootstrap)
	cmd.Env = append(os.Environ(), function.ConfigEnv+"="+cfg)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the bootstrap started with an on-device labeller:\n%s", out)
	}
	var line struct{ Level, Msg, Err string }
	if json.Unmarshal(bytes.TrimSpace(out), &line) != nil || line.Level != "ERROR" ||
		!strings.Contains(line.Err, `provider = "vision"`) {
		t.Errorf("start-up said %s", out)
	}
}

// The Lambda build must not pull in the window (Fyne, cgo OpenGL) or the
// on-device model's cgo binding: it would not build without cgo, or would
// carry megabytes it never runs.
func TestBootstrapLeavesOutWindowAndCgo(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		emulator.Missing(t, "the go command is not on PATH")
	}
	cmd := exec.Command(goCmd, "list", "-tags", "lambda.norpc", "-deps",
		"./cloud/function/cmd/bootstrap")
	cmd.Dir = emulator.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "fyne.io/") || pkg == "runtime/cgo" ||
			strings.Contains(pkg, "onnxruntime") ||
			strings.HasPrefix(pkg, "github.com/multicloud/multicloud/app") {
			t.Errorf("the bootstrap depends on %s", pkg)
		}
	}
}
