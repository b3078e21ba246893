package gvision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/multicloud/multicloud/cloud"
)

const (
	callOp = "vision BatchAnnotateImages"

	// firstBackoff and maxBackoff bound the wait between attempts after a
	// quota error; the wait doubles, with jitter so that parallel imports
	// do not come back in step.
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 8 * time.Second
	// unavailableAttempts is how often an unreachable or timed-out service
	// is tried: a dropped connection is worth a second try, a server that is
	// down is not worth waiting the whole deadline for.
	unavailableAttempts = 2
)

// call sends req within the labeller's deadline, waiting out quota errors.
func (l *Labeller) call(parent context.Context,
	req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
	ctx, cancel := context.WithTimeout(parent, l.timeout)
	defer cancel()
	start := time.Now()
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		resp, err := l.client.BatchAnnotateImages(ctx, req, l.callOpts...)
		if err == nil {
			return resp, nil
		}
		if perr := endedBy(parent, err); perr != nil {
			return nil, cloud.Wrap(cloud.CodeOf(perr), callOp, perr)
		}
		if endedBy(ctx, err) != nil {
			return nil, cloud.Errorf(cloud.DeadlineExceeded, callOp, "no answer from %s "+
				"within %v (attempt %d); raise [labeller.vision] timeout if the network is "+
				"slow", l.name, l.timeout, attempt)
		}

		st := status.Convert(err)
		transient := st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded
		retry := st.Code() == codes.ResourceExhausted ||
			transient && attempt < unavailableAttempts
		if !retry {
			return nil, rpcError(st, attempt, time.Since(start))
		}
		d := retryDelay(st, wait)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			// Sleeping past the deadline would only end in a timeout that
			// hides the real reason.
			return nil, rpcError(st, attempt, time.Since(start))
		}
		slog.Debug("vision call failed; retrying", "labeller", l.name, "code", st.Code(),
			"attempt", attempt, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if perr := parent.Err(); perr != nil {
				return nil, cloud.Wrap(cloud.CodeOf(perr), callOp, perr)
			}
			return nil, rpcError(st, attempt, time.Since(start))
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}

// endedBy returns ctx's error when the call ended because of it. The server
// enforces the deadline the client sends it, and under load its "deadline
// exceeded" can arrive a moment before the client's own timer fires; such an
// answer is that deadline all the same.
func endedBy(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Canceled {
		return nil
	}
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > 100*time.Millisecond {
		return nil
	}
	t := time.NewTimer(time.Until(dl) + 50*time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryDelay is the server's RetryInfo delay when it gives one (Google does
// for some quota errors), else wait with ±25 % jitter.
func retryDelay(st *status.Status, wait time.Duration) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			if rd := ri.GetRetryDelay().AsDuration(); rd > 0 {
				return rd
			}
		}
	}
	return wait*3/4 + rand.N(wait/2+1)
}

// codeOf maps a gRPC code to the cloud code a caller branches on.
func codeOf(c codes.Code) cloud.Code {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return cloud.InvalidArgument
	case codes.PermissionDenied, codes.Unauthenticated:
		return cloud.PermissionDenied
	case codes.Unavailable, codes.Aborted, codes.Canceled:
		return cloud.Unavailable
	case codes.ResourceExhausted:
		return cloud.ResourceExhausted
	case codes.DeadlineExceeded:
		return cloud.DeadlineExceeded
	case codes.FailedPrecondition, codes.Unimplemented:
		return cloud.FailedPrecondition
	case codes.NotFound:
		return cloud.NotFound
	}
	return cloud.Unknown
}

// hint says what a person can do about an error of code c.
func hint(c codes.Code) string {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return "the photo or the settings sent with it were refused; sending it " +
			"again will not help"
	case codes.PermissionDenied, codes.Unauthenticated:
		return "check [labeller.vision] credentials_file or Application Default " +
			"Credentials, and that the Cloud Vision API is enabled (with billing) for " +
			"the project"
	case codes.ResourceExhausted:
		return "a quota or rate limit was reached; the photo can be labelled again later"
	case codes.Unavailable:
		return "the service could not be reached; check the network and [labeller.vision] " +
			"endpoint"
	case codes.Unimplemented, codes.FailedPrecondition:
		return "the server does not offer what was asked; check [labeller.vision] " +
			"objects and faces"
	}
	return ""
}

// rpcError is the error for a failed call.
func rpcError(st *status.Status, attempts int, took time.Duration) error {
	msg := fmt.Sprintf("%s: %s", st.Code(), st.Message())
	if attempts > 1 {
		msg += fmt.Sprintf(" (gave up after %d attempts in %v)", attempts,
			took.Round(time.Millisecond))
	}
	if h := hint(st.Code()); h != "" {
		msg += "; " + h
	}
	return &cloud.Error{Code: codeOf(st.Code()), Op: callOp, Err: errors.New(msg)}
}

// imageError is the error for a photo that the service answered with an
// error inside a successful batch, or nil when there is none.
func imageError(s *spb.Status) error {
	if s == nil || codes.Code(s.GetCode()) == codes.OK {
		return nil
	}
	c := codes.Code(s.GetCode())
	msg := fmt.Sprintf("the photo was not labelled: %s: %s", c, s.GetMessage())
	if h := hint(c); h != "" {
		msg += "; " + h
	}
	return &cloud.Error{Code: codeOf(c), Op: "vision annotate image", Err: errors.New(msg)}
}
