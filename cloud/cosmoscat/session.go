package cosmoscat

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const sessionHeader = "x-ms-session-token"

// sessionPolicy gives this client read-your-writes under Session consistency
// (the default of a Cosmos DB account). Reads without a session token may be
// served by a replica that has not seen the write yet, and the Go SDK, unlike
// the .NET and Java ones, does not carry tokens from writes to reads itself:
// this policy remembers the newest token of each partition key range it saw
// and sends them with every read and query of items.
type sessionPolicy struct {
	mu     sync.Mutex
	ranges map[string]string // partition key range id → newest token
}

func newSessionPolicy() *sessionPolicy { return &sessionPolicy{ranges: map[string]string{}} }

func (p *sessionPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	isRead := raw.Method == http.MethodGet ||
		strings.EqualFold(raw.Header.Get("x-ms-documentdb-query"), "true")
	if isRead && strings.Contains(raw.URL.Path, "/docs") && raw.Header.Get(sessionHeader) == "" {
		if tok := p.token(); tok != "" {
			raw.Header.Set(sessionHeader, tok)
		}
	}
	resp, err := req.Next()
	if err == nil && resp.StatusCode < 300 {
		p.remember(resp.Header.Get(sessionHeader))
	}
	return resp, err
}

// token is every range's newest token, in the compound form the service
// accepts ("range:token,range:token").
func (p *sessionPolicy) token() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := make([]string, 0, len(p.ranges))
	for r, t := range p.ranges {
		parts = append(parts, r+":"+t)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (p *sessionPolicy) remember(header string) {
	if header == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range strings.Split(header, ",") {
		r, tok, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || r == "" || tok == "" {
			continue
		}
		if old, seen := p.ranges[r]; !seen || newerSession(tok, old) {
			p.ranges[r] = tok
		}
	}
}

// newerSession reports whether token a is ahead of b. A token is either a
// bare log sequence number or "version#globalLSN#region=LSN…"; a later
// version, then a higher global LSN, is newer.
func newerSession(a, b string) bool {
	av, al := sessionPosition(a)
	bv, bl := sessionPosition(b)
	if av != bv {
		return av > bv
	}
	return al > bl
}

func sessionPosition(tok string) (version, lsn int64) {
	f := strings.Split(tok, "#")
	if len(f) == 1 {
		lsn, _ = strconv.ParseInt(f[0], 10, 64)
		return -1, lsn
	}
	version, _ = strconv.ParseInt(f[0], 10, 64)
	lsn, _ = strconv.ParseInt(f[1], 10, 64)
	return version, lsn
}
