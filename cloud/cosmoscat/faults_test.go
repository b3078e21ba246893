package cosmoscat_test

// cosmosdb-server accepts any key and never throttles, so these tests talk to
// a scripted server on loopback (TLS) that answers the way Cosmos DB does:
// the account and container reads the client makes first, then whatever the
// test scripts for item requests.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/cosmoscat"
	"github.com/multicloud/multicloud/cloud/roletest"
)

// scripted is a Cosmos DB stand-in. items answers requests for documents;
// every other request gets the account or container as Cosmos DB would
// describe them, unless all (when set) answers everything.
type scripted struct {
	*httptest.Server
	items func(w http.ResponseWriter, r *http.Request)
	all   func(w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	attempts []time.Time // item requests, when they arrived
}

func newScripted(t *testing.T) *scripted {
	s := &scripted{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *scripted) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-ms-activity-id", "00000000-0000-0000-0000-000000000000")
	if s.all != nil {
		s.all(w, r)
		return
	}
	switch {
	case r.URL.Path == "/":
		s.account(w)
	case strings.Contains(r.URL.Path, "/docs"):
		s.mu.Lock()
		s.attempts = append(s.attempts, time.Now())
		s.mu.Unlock()
		s.items(w, r)
	default: // the container
		fmt.Fprint(w, `{"id":"records","_rid":"AAAAAA==","_self":"dbs/AAAA==/colls/AAAAAA==/",`+
			`"_etag":"\"1\"","partitionKey":{"paths":["/owner"],"kind":"Hash","version":2},`+
			`"indexingPolicy":{"automatic":true,"indexingMode":"consistent",`+
			`"compositeIndexes":[[{"path":"/created","order":"descending"},`+
			`{"path":"/id","order":"descending"}]]}}`)
	}
}

// account describes the account with one region, this server.
func (s *scripted) account(w http.ResponseWriter) {
	fmt.Fprintf(w, `{"id":"test","_self":"","writableLocations":[{"name":"Test",`+
		`"databaseAccountEndpoint":%[1]q}],"readableLocations":[{"name":"Test",`+
		`"databaseAccountEndpoint":%[1]q}],"enableMultipleWriteLocations":false,`+
		`"userConsistencyPolicy":{"defaultConsistencyLevel":"Session"}}`, s.URL+"/")
}

func (s *scripted) tries() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

func (s *scripted) options(key cosmoscat.Key) cosmoscat.Options {
	return cosmoscat.Options{Endpoint: s.URL + "/", Key: key, HTTPClient: s.Client()}
}

func answer(w http.ResponseWriter, status int, code, message string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%q,"message":%q}`, code, message)
}

func throttle(w http.ResponseWriter, ms int) {
	w.Header().Set("x-ms-retry-after-ms", fmt.Sprint(ms))
	w.Header().Set("x-ms-substatus", "3200")
	answer(w, http.StatusTooManyRequests, "429", "Message: {\"Errors\":[\"Request rate is "+
		"large. More Request Units may be needed, so no changes were made.\"]}")
}

// Throttled more often than azcore's own retry policy would try (four
// times), the write still goes through, each retry after the wait asked for.
func TestThrottledPutWaitsAsAsked(t *testing.T) {
	s := newScripted(t)
	const throttles, waitMS = 5, 40
	s.items = func(w http.ResponseWriter, r *http.Request) {
		if len(s.tries()) <= throttles {
			throttle(w, waitMS)
			return
		}
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{}`)
	}
	c, err := cosmoscat.Open(context.Background(), s.options(testKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Put(context.Background(), roletest.MakeRecord(1)); err != nil {
		t.Fatalf("Put after %d throttles: %v", throttles, err)
	}
	tries := s.tries()
	if len(tries) != throttles+1 {
		t.Fatalf("server saw %d attempts, want %d", len(tries), throttles+1)
	}
	for i := 1; i < len(tries); i++ {
		if gap := tries[i].Sub(tries[i-1]); gap < waitMS*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous one; the server asked for %dms",
				i+1, gap, waitMS)
		}
	}
}

// A wait that would end after the call's deadline is not waited for: the
// call fails at once with ResourceExhausted, which the pipeline retries later.
func TestThrottledBeyondDeadline(t *testing.T) {
	s := newScripted(t)
	s.items = func(w http.ResponseWriter, r *http.Request) { throttle(w, 5000) }
	o := s.options(testKey())
	o.Timeout = time.Second
	c, err := cosmoscat.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	err = c.Put(context.Background(), roletest.MakeRecord(1))
	if cloud.CodeOf(err) != cloud.ResourceExhausted {
		t.Errorf("Put while throttled beyond the deadline: %v, want ResourceExhausted", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("gave up after %v; nothing was to be gained by waiting", d)
	}
	if !cloud.Retryable(err) {
		t.Errorf("%v is not retryable", err)
	}
}

// captureLogs sends slog's output to a buffer for the rest of the test.
func captureLogs(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	old := slog.Default()
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

// A key the account refuses is reported as such, naming where the key came
// from, and the key itself appears nowhere.
func TestUnauthorizedNamesTheKey(t *testing.T) {
	logs := captureLogs(t)
	s := newScripted(t)
	s.all = func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusUnauthorized, "Unauthorized", "The input authorization token "+
			"can't serve the request. The wrong key is being used or the expected payload is "+
			"not built as per the protocol.\r\nActivityId: 0000, Microsoft.Azure.Documents.Common")
	}
	key := testKey()
	o := s.options(key)
	_, err := cosmoscat.Open(context.Background(), o)
	if cloud.CodeOf(err) != cloud.PermissionDenied {
		t.Fatalf("Open with a refused key: %v, want PermissionDenied", err)
	}
	if !strings.Contains(err.Error(), cosmoscat.KeyEnv) {
		t.Errorf("%q does not say to check %s", err, cosmoscat.KeyEnv)
	}
	t.Logf("message: %v", err)

	// The key, however it is printed, never shows.
	printed := fmt.Sprintf("%v %+v %#v %s %q", o, o, o, o.Key, o.Key)
	slog.Info("options", "options", o, "key", o.Key)
	for what, text := range map[string]string{"error": err.Error(), "print": printed,
		"log": logs.String()} {
		if strings.Contains(text, string(key)) {
			t.Errorf("the account key appears in the %s: %s", what, text)
		}
	}
}

type fakeToken struct{ err error }

func (f fakeToken) GetToken(context.Context, policy.TokenRequestOptions) (
	azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "token", ExpiresOn: time.Now().Add(time.Hour)}, f.err
}

// With Microsoft Entra ID a refusal points at the identity and its role.
func TestForbiddenNamesTheEntraIdentity(t *testing.T) {
	s := newScripted(t)
	s.all = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" { // reading the account is allowed, the container is not
			s.account(w)
			return
		}
		forbid(w, r)
	}
	o := s.options("")
	o.Credential = fakeToken{}
	_, err := cosmoscat.Open(context.Background(), o)
	if cloud.CodeOf(err) != cloud.PermissionDenied || !strings.Contains(err.Error(), "Entra") {
		t.Errorf("Open refused by RBAC: %v, want PermissionDenied naming the Entra identity", err)
	}
	t.Logf("message: %v", err)

	o.Credential = fakeToken{err: errors.New("DefaultAzureCredential: no credential found")}
	_, err = cosmoscat.Open(context.Background(), o)
	if cloud.CodeOf(err) != cloud.PermissionDenied || !strings.Contains(err.Error(), "Entra") {
		t.Errorf("Open without a token: %v, want PermissionDenied naming the Entra identity", err)
	}
	t.Logf("message: %v", err)
}

func forbid(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-substatus", "5301")
	answer(w, http.StatusForbidden, "Forbidden", "Request blocked by Auth test : Request is "+
		"blocked because principal [00000000] does not have required RBAC permissions to "+
		"perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/].")
}

// A server error on a write is Unavailable and is not repeated by the
// client: a repeated replace could turn its own success into a conflict.
func TestServerErrorOnWrite(t *testing.T) {
	s := newScripted(t)
	s.items = func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusInternalServerError, "InternalServerError", "Unknown server error")
	}
	c, err := cosmoscat.Open(context.Background(), s.options(testKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Put(context.Background(), roletest.MakeRecord(1))
	if cloud.CodeOf(err) != cloud.Unavailable {
		t.Errorf("Put answered 500: %v, want Unavailable", err)
	}
	if n := len(s.tries()); n != 1 {
		t.Errorf("the write was sent %d times, want once", n)
	}
}

// Reads carry the session tokens of earlier writes, so that under Session
// consistency a client reads what it wrote even from a lagging replica.
func TestReadsCarryWriteSessions(t *testing.T) {
	s := newScripted(t)
	var mu sync.Mutex
	var sent []string
	replies := []string{"0:-1#42", "0:-1#40,1:-1#7", ""}
	s.items = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, r.Header.Get("x-ms-session-token"))
		if len(replies) > 0 && replies[0] != "" {
			w.Header().Set("x-ms-session-token", replies[0])
		}
		if len(replies) > 0 {
			replies = replies[1:]
		}
		fmt.Fprint(w, `{"id":"x","owner":"local","record":{"id":"x"}}`)
	}
	c, err := cosmoscat.Open(context.Background(), s.options(testKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Put(ctx, roletest.MakeRecord(1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, roletest.MakeRecord(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Writes send none; the read sends the newest token of each range.
	want := []string{"", "", "0:-1#42,1:-1#7"}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("session tokens sent %q, want %q", sent, want)
	}
}

// With Microsoft Entra ID a missing container cannot be created through the
// data plane; the message says how to create it instead.
func TestEntraCannotCreateContainer(t *testing.T) {
	s := newScripted(t)
	s.all = func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			s.account(w)
		case r.Method == http.MethodGet:
			answer(w, http.StatusNotFound, "NotFound", "Resource Not Found")
		default:
			forbid(w, r)
		}
	}
	o := s.options("")
	o.Credential = fakeToken{}
	_, err := cosmoscat.Open(context.Background(), o)
	if cloud.CodeOf(err) != cloud.PermissionDenied ||
		!strings.Contains(err.Error(), "az cosmosdb sql container create") {
		t.Errorf("Open of a missing container with Entra ID: %v, want PermissionDenied saying "+
			"how to create it", err)
	}
	t.Logf("message: %v", err)
}
