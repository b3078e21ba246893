package cosmoscat

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/multicloud/multicloud/cloud"
)

// throttlePolicy answers 429 Too Many Requests by waiting as long as the
// server asks (x-ms-retry-after-ms) and sending the request again, for as
// long as the call's deadline allows. azcore's generic retry policy would
// give up after three tries whatever the deadline; Cosmos DB throttles
// whenever a burst exceeds the provisioned RU/s, so a bulk import must be
// able to ride out many short waits. It is placed before azcore's retry
// policy (which is told to leave 429 alone), so every attempt is signed anew.
type throttlePolicy struct {
	// limit bounds the total wait when the call has no deadline of its own.
	limit time.Duration
}

func (p throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	giveUp := time.Now().Add(p.limit)
	if dl, ok := ctx.Deadline(); ok && dl.Before(giveUp) {
		giveUp = dl
	}
	for attempt := 1; ; attempt++ {
		resp, err := req.Next()
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		wait := retryAfter(resp.Header, attempt)
		if time.Now().Add(wait).After(giveUp) {
			// Handing the 429 back makes the call fail with
			// ResourceExhausted, which the pipeline keeps for a retry.
			slog.Warn("cosmos db still throttling at the deadline; giving up",
				"method", req.Raw().Method, "path", req.Raw().URL.Path, "attempts", attempt,
				"retry_after", wait)
			return resp, nil
		}
		runtime.Drain(resp)
		slog.Debug("cosmos db throttled a request; waiting as asked",
			"method", req.Raw().Method, "path", req.Raw().URL.Path, "attempt", attempt,
			"retry_after", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
	}
}

// retryAfter reads how long the server asked to wait. Cosmos DB always sends
// x-ms-retry-after-ms with a 429; the others are the generic HTTP forms, and
// a short growing pause stands in when there is none.
func retryAfter(h http.Header, attempt int) time.Duration {
	for _, name := range []string{"x-ms-retry-after-ms", "retry-after-ms"} {
		if ms, err := strconv.ParseFloat(h.Get(name), 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return min(time.Duration(attempt)*100*time.Millisecond, 2*time.Second)
}

// retryStatuses are the answers azcore's retry policy may repeat a request
// for. 429 is the throttle policy's. 500 is left out: the Cosmos client
// already retries a read once after a 500, and repeating a conditional
// replace whose first attempt may have been applied would turn success into a
// false conflict; the caller sees Unavailable and may try again.
var retryStatuses = []int{
	http.StatusRequestTimeout,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// shouldRetry tells azcore's retry policy what to send again: failures to
// connect and the statuses above, but not a certificate that fails
// verification, which no retry will fix.
func shouldRetry(resp *http.Response, err error) bool {
	var ce *credentialError
	if err != nil {
		return !untrusted(err) && !errors.As(err, &ce)
	}
	return slices.Contains(retryStatuses, resp.StatusCode)
}

// untrusted reports whether err is a TLS certificate that failed verification.
func untrusted(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownCA) || errors.As(err, &hostErr) ||
		errors.As(err, &invalid) || errors.As(err, &verify)
}

// tokenCredential marks every failure to obtain a Microsoft Entra token, so
// that it is reported as a credential problem and not as a network one.
type tokenCredential struct{ azcore.TokenCredential }

type credentialError struct{ err error }

func (e *credentialError) Error() string { return e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// NonRetriable tells azcore's retry policy that asking again will not help:
// the credential chain has already tried what it could.
func (e *credentialError) NonRetriable() {}

func (c tokenCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (
	azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, o)
	if err != nil && ctx.Err() == nil {
		err = &credentialError{err}
	}
	return tok, err
}

// serviceError is a failure answered by the service, told in one line: the
// status, Cosmos DB's own code and the first line of its message, then what to
// check. The full response stays reachable through Unwrap.
type serviceError struct {
	status  int
	code    string
	message string
	hint    string
	err     *azcore.ResponseError
}

func (e *serviceError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.message != "" {
		s += ": " + e.message
	}
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

func (e *serviceError) Unwrap() error { return e.err }

// statusOf is the HTTP status of a service error, or 0.
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// fail classifies err for the operation op. Nothing here reads request
// headers, so the account key (which only ever travels in the Authorization
// header's signature) cannot reach the message.
func (c *Catalogue) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return cloud.Wrap(cloud.DeadlineExceeded, op, err)
	case errors.Is(err, context.Canceled):
		return cloud.Wrap(cloud.Unavailable, op, err)
	}
	var ce *credentialError
	if errors.As(err, &ce) {
		return cloud.Errorf(cloud.PermissionDenied, op,
			"no Microsoft Entra token (check %s): %v", c.credential, firstLine(ce.err.Error()))
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return c.answered(op, re)
	}
	if untrusted(err) {
		return cloud.Errorf(cloud.FailedPrecondition, op, "the server's TLS certificate is "+
			"not trusted (for a local server, name its CA in ca_cert): %v", err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return cloud.Wrap(cloud.Unavailable, op, err)
	}
	return cloud.Wrap(cloud.Unknown, op, err)
}

func (c *Catalogue) answered(op string, re *azcore.ResponseError) error {
	se := &serviceError{status: re.StatusCode, err: re}
	se.code, se.message = serviceMessage(re)
	var code cloud.Code
	switch s := re.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		code = cloud.PermissionDenied
		se.hint = "check " + c.credential
	case s == http.StatusNotFound:
		code = cloud.NotFound
	case s == http.StatusConflict:
		code = cloud.FailedPrecondition
	case s == http.StatusPreconditionFailed:
		code = cloud.FailedPrecondition
		se.hint = "the record was changed by someone else after it was read; read it again"
	case s == http.StatusTooManyRequests:
		code = cloud.ResourceExhausted
		se.hint = "the account's request units are exhausted; try again later or raise RU/s"
	case s == http.StatusRequestTimeout || s >= 500:
		code = cloud.Unavailable
	case s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge:
		code = cloud.InvalidArgument
	default:
		code = cloud.Unknown
	}
	return cloud.Wrap(code, op, se)
}

// serviceMessage reads Cosmos DB's error body ({"code": …, "message": …}):
// the code and the first line of the message, shortened, as the rest is
// activity ids and server build strings.
func serviceMessage(re *azcore.ResponseError) (code, message string) {
	if re.RawResponse == nil {
		return "", ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return "", ""
	}
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Code, firstLine(e.Message)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), ",\r"))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
