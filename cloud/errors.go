package cloud

import (
	"context"
	"errors"
	"fmt"
)

// Code classifies an error so that callers can decide what to do (retry, ask
// the person to fix a setting, give up) without matching error text.
type Code int

const (
	// Unknown is any error no provider classified.
	Unknown Code = iota
	// NotFound: the object or record does not exist.
	NotFound
	// InvalidArgument: the request itself is wrong (a bad image, a bad key);
	// sending it again will not help.
	InvalidArgument
	// PermissionDenied: credentials are missing, wrong or not allowed to do this.
	PermissionDenied
	// Unavailable: the service or the network is down or overloaded for now;
	// the same request may succeed later.
	Unavailable
	// ResourceExhausted: a quota or rate limit was hit; retry after a while.
	ResourceExhausted
	// DeadlineExceeded: the call took longer than it was allowed to.
	DeadlineExceeded
	// FailedPrecondition: the system is not in a state to do this (a missing
	// model file, a clock too far off, a record changed by someone else).
	FailedPrecondition
)

var codeNames = [...]string{
	Unknown:            "unknown",
	NotFound:           "not found",
	InvalidArgument:    "invalid argument",
	PermissionDenied:   "permission denied",
	Unavailable:        "unavailable",
	ResourceExhausted:  "resource exhausted",
	DeadlineExceeded:   "deadline exceeded",
	FailedPrecondition: "failed precondition",
}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is an error with a Code and the name of the operation that failed,
// so that a log line says where ("s3 PutObject: …") and a caller can branch
// on what kind of failure it was.
type Error struct {
	Code Code
	Op   string
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Op + ": " + e.Code.String()
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, op, format string, args ...any) error {
	return &Error{Code: code, Op: op, Err: fmt.Errorf(format, args...)}
}

// Wrap gives err a code and an operation name. A nil err stays nil.
func Wrap(code Code, op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Op: op, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain. Context errors
// count as DeadlineExceeded (or Unavailable when cancelled), so a timeout from
// any provider is classified the same way.
func CodeOf(err error) Code {
	if err == nil {
		return Unknown
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return Unavailable
	}
	return Unknown
}

// IsNotFound reports whether err means the thing asked for does not exist.
func IsNotFound(err error) bool { return CodeOf(err) == NotFound }

// Retryable reports whether the same call may succeed if it is made again
// later, so that the photo should be kept for a retry rather than given up on.
func Retryable(err error) bool {
	switch CodeOf(err) {
	case Unavailable, ResourceExhausted, DeadlineExceeded, Unknown:
		return true
	}
	return false
}
