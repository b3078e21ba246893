package cosmoscat_test

// These tests run against @zeit/cosmosdb-server (0.13.4), started as a real
// process on 127.0.0.1 by internal/emulator. Where it differs from Azure, as
// seen while writing them:
//   - a point read of a missing id answers 500, not 404 (the catalogue then
//     asks with a query, which is right on Azure too);
//   - a query's partition key is ignored, so every query says c.owner = @owner
//     itself, which Azure also accepts and routes on;
//   - PatchItem is missing and transactional batches are broken: the
//     catalogue uses neither;
//   - GROUP BY and OFFSET … LIMIT are not parsed: Labels counts names itself
//     and pages are keyset queries with TOP;
//   - it accepts any key and never throttles: the 401 and 429 tests use a
//     scripted server (faults_test.go).

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/cosmoscat"
	"github.com/multicloud/multicloud/cloud/roletest"
	"github.com/multicloud/multicloud/internal/emulator"
	"github.com/multicloud/multicloud/internal/localclouds"
)

// cosmosServer is a running cosmosdb-server and a client that trusts exactly
// the certificate authority made for it.
type cosmosServer struct {
	endpoint string
	client   *http.Client
	caFile   string
	n        atomic.Int64
}

func startCosmos(tb testing.TB) *cosmosServer {
	tb.Helper()
	if _, err := emulator.NodeBinPath("cosmosdb-server"); err != nil {
		emulator.Missing(tb, err.Error())
	}
	srv, caFile, err := localclouds.Cosmos(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Stop)
	pem, err := os.ReadFile(caFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &cosmosServer{
		endpoint: "https://" + srv.Addr + "/",
		client:   &http.Client{Transport: tr},
		caFile:   caFile,
	}
}

// testKey is a well-formed account key made up per run: cosmosdb-server
// accepts any.
func testKey() cosmoscat.Key {
	b := make([]byte, 64)
	rand.Read(b)
	return cosmoscat.Key(base64.StdEncoding.EncodeToString(b))
}

// open opens a catalogue on a container of its own, so each test starts empty.
func (s *cosmosServer) open(tb testing.TB, o cosmoscat.Options) *cosmoscat.Catalogue {
	tb.Helper()
	o.Endpoint = s.endpoint
	o.HTTPClient = s.client
	if o.Key == "" && o.Credential == nil {
		o.Key = testKey()
	}
	if o.Database == "" {
		o.Database = "test"
	}
	if o.Container == "" {
		o.Container = fmt.Sprintf("c%d", s.n.Add(1))
	}
	c, err := cosmoscat.Open(context.Background(), o)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return c
}

func TestConformance(t *testing.T) {
	s := startCosmos(t)
	roletest.RunCatalogue(t, func(t *testing.T) cloud.Catalogue {
		return s.open(t, cosmoscat.Options{})
	}, roletest.CatalogueOptions{})
}

// Two writers read the same record; the one that writes second must not
// silently undo the first one's change.
func TestUpdateConflict(t *testing.T) {
	s := startCosmos(t)
	ctx := context.Background()
	a := s.open(t, cosmoscat.Options{Container: "shared"})
	defer a.Close()
	b := s.open(t, cosmoscat.Options{Container: "shared"})
	defer b.Close()
	rec := roletest.MakeRecord(1, cloud.Label{Name: "cat", Score: 0.9})
	if err := a.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}

	err := a.Update(ctx, rec.ID, func(r *cloud.Record) error {
		// b writes between a's read and a's write.
		dog := []cloud.Label{{Name: "dog", Score: 0.8}}
		if err := b.UpdateLabels(ctx, rec.ID, "b", dog); err != nil {
			t.Fatalf("b's update: %v", err)
		}
		r.Labels = []cloud.Label{{Name: "horse", Score: 0.7}}
		return nil
	})
	if cloud.CodeOf(err) != cloud.FailedPrecondition {
		t.Fatalf("a's update after b's: %v, want FailedPrecondition", err)
	}
	got, err := a.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Labels) != 1 || got.Labels[0].Name != "dog" || got.Labeller != "b" {
		t.Errorf("after the conflict the record is %+v, want b's labels", got)
	}

	// Read again, change again: now it goes through.
	horse := []cloud.Label{{Name: "horse", Score: 0.7}}
	if err := a.UpdateLabels(ctx, rec.ID, "", horse); err != nil {
		t.Fatalf("a's second update: %v", err)
	}
	page, err := a.List(ctx, cloud.Query{Label: "horse"})
	if err != nil || len(page.Records) != 1 {
		t.Errorf("search horse after the update = %d records, %v", len(page.Records), err)
	}
	err = a.Update(ctx, rec.ID, func(r *cloud.Record) error { r.Owner = "x"; return nil })
	if cloud.CodeOf(err) != cloud.InvalidArgument {
		t.Errorf("changing the owner in an update: %v, want InvalidArgument", err)
	}
}

// Label text reaches the server only as a query parameter: text that would
// change a concatenated query finds nothing (or exactly itself) and fails
// nothing.
func TestSearchIsParameterised(t *testing.T) {
	s := startCosmos(t)
	ctx := context.Background()
	c := s.open(t, cosmoscat.Options{})
	defer c.Close()
	for i := range 5 {
		r := roletest.MakeRecord(i, cloud.Label{Name: "cat", Score: 0.9})
		if err := c.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, label := range []string{
		`x' OR 1=1 --`, `x" OR 1=1 --`, `cat" OR "1"="1`, `') OR true --`, `\`, `@label`,
	} {
		page, err := c.List(ctx, cloud.Query{Label: label})
		if err != nil {
			t.Errorf("search %q: %v", label, err)
			continue
		}
		if len(page.Records) != 0 {
			t.Errorf("search %q found %d records, want none", label, len(page.Records))
		}
	}
	odd := roletest.MakeRecord(9, cloud.Label{Name: `x' OR 1=1 --`, Score: 0.5})
	if err := c.Put(ctx, odd); err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx, cloud.Query{Label: `x' OR 1=1 --`})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != odd.ID {
		t.Errorf("search for the label stored verbatim = %d records, %v; want just it",
			len(page.Records), err)
	}
}

// Records are partitioned by owner: a catalogue lists its own owner's records
// and still finds, and deletes, another owner's by id.
func TestOwnerPartitions(t *testing.T) {
	s := startCosmos(t)
	ctx := context.Background()
	local := s.open(t, cosmoscat.Options{Container: "owners"})
	defer local.Close()
	alice := s.open(t, cosmoscat.Options{Container: "owners", Owner: "alice@example.com"})
	defer alice.Close()

	mine := roletest.MakeRecord(1, cloud.Label{Name: "cat", Score: 0.9})
	hers := roletest.MakeRecord(2, cloud.Label{Name: "cat", Score: 0.9})
	hers.Owner = "alice@example.com"
	for _, r := range []*cloud.Record{mine, hers} {
		if err := local.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		c    *cosmoscat.Catalogue
		want string
	}{{local, mine.ID}, {alice, hers.ID}} {
		page, err := tc.c.List(ctx, cloud.Query{Label: "cat"})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != tc.want {
			t.Errorf("%s lists %d records (%v), want only %s", tc.c.Name(), len(page.Records),
				err, tc.want)
		}
		labels, err := tc.c.Labels(ctx)
		if err != nil || len(labels) != 1 || labels[0].Count != 1 {
			t.Errorf("Labels = %v, %v; want cat×1", labels, err)
		}
	}
	got, err := local.Get(ctx, hers.ID)
	if err != nil || got.Owner != hers.Owner {
		t.Fatalf("Get of another owner's record = %+v, %v", got, err)
	}
	got, err = alice.Get(ctx, mine.ID)
	if err != nil || got.Owner != "" {
		t.Fatalf("the local user's record read back with owner %q (%v), want empty", got.Owner, err)
	}
	if err := local.Delete(ctx, hers.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Get(ctx, hers.ID); !cloud.IsNotFound(err) {
		t.Errorf("Get after deleting from another catalogue: %v, want NotFound", err)
	}
}

// Nothing the caller did wrong reaches the server.
func TestInvalidRecords(t *testing.T) {
	s := startCosmos(t)
	ctx := context.Background()
	c := s.open(t, cosmoscat.Options{})
	defer c.Close()
	bad := roletest.MakeRecord(1)
	bad.ID = "a/b"
	if err := c.Put(ctx, bad); cloud.CodeOf(err) != cloud.InvalidArgument {
		t.Errorf("Put with a slash in the id: %v, want InvalidArgument", err)
	}
	if _, err := c.Get(ctx, "a/b"); !cloud.IsNotFound(err) {
		t.Errorf("Get with a slash in the id: %v, want NotFound", err)
	}
	if err := c.Put(ctx, nil); cloud.CodeOf(err) != cloud.InvalidArgument {
		t.Errorf("Put(nil): %v, want InvalidArgument", err)
	}
}

// A client that does not trust the server's certificate fails, and says why:
// the catalogue never skips verification.
func TestUntrustedCertificate(t *testing.T) {
	s := startCosmos(t)
	_, err := cosmoscat.Open(context.Background(), cosmoscat.Options{
		Endpoint: s.endpoint,
		Key:      testKey(),
		HTTPClient: &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()},
		}},
		Timeout: 10 * time.Second,
	})
	if cloud.CodeOf(err) != cloud.FailedPrecondition || !strings.Contains(err.Error(), "ca_cert") {
		t.Errorf("Open with an untrusted certificate: %v, want FailedPrecondition naming ca_cert",
			err)
	}
}

// The settings file opens the same catalogue: the endpoint and ca_cert from
// the file, the key from the environment, never from the file.
func TestOpenedFromSettings(t *testing.T) {
	s := startCosmos(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config.toml")
	settings := fmt.Sprintf("[catalogue]\nprovider = \"cosmos\"\n[catalogue.cosmos]\n"+
		"endpoint = %q\ndatabase = \"settings\"\ncontainer = \"records\"\nca_cert = %q\n",
		s.endpoint, s.caFile)
	if err := os.WriteFile(path, []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv(cosmoscat.KeyEnv, "")
	// Keep the test off a desktop's keyring (which has no key for 127.0.0.1).
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	_, err = cfg.OpenCatalogue(ctx)
	if cloud.CodeOf(err) != cloud.PermissionDenied ||
		!strings.Contains(err.Error(), cosmoscat.KeyEnv) {
		t.Errorf("opening without a key: %v, want PermissionDenied naming %s", err,
			cosmoscat.KeyEnv)
	}
	t.Logf("without a key: %v", err)

	t.Setenv(cosmoscat.KeyEnv, string(testKey())+"\n")
	c, err := cfg.OpenCatalogue(ctx)
	if err != nil {
		t.Fatalf("OpenCatalogue: %v", err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.Name(), "cosmos:127.0.0.1:") {
		t.Errorf("Name = %q", c.Name())
	}
	r := roletest.MakeRecord(1, cloud.Label{Name: "cat", Score: 0.9})
	if err := c.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, r.ID); err != nil {
		t.Fatal(err)
	}

	cfg.Catalogue.Cosmos.Auth = "password"
	if _, err := cfg.OpenCatalogue(ctx); cloud.CodeOf(err) != cloud.InvalidArgument {
		t.Errorf("auth = \"password\": %v, want InvalidArgument", err)
	}
}
