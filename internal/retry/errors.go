package retry

import "errors"

// Sentinel errors. Check them with errors.Is.
var (
	// ErrTimeout marks an attempt that made no progress within its deadline
	// (Policy.Timeout). errors.Is(err, ErrTimeout) holds for every error
	// such an attempt produces; the *Error around it carries the deadline.
	ErrTimeout = errors.New("no answer within the attempt deadline")

	// ErrPlainHTTP marks a request the guard of a client built by NewClient
	// refused: plain HTTP to a host that is not loopback, where
	// ClientOptions.AllowPlainHTTP does not allow it. It is never retried.
	ErrPlainHTTP = errors.New("plain HTTP is only used for loopback hosts")
)

// PlainHTTPError is a request the guard refused (see ErrPlainHTTP). It
// matches ErrPlainHTTP and, when set, the caller's own sentinel
// (ClientOptions.PlainHTTPSentinel), whose text then leads its message.
type PlainHTTPError struct {
	// URL is the refused request's scheme and host ("http://host:port").
	URL string
	// Sentinel is ClientOptions.PlainHTTPSentinel; nil: none.
	Sentinel error
}

func (e *PlainHTTPError) Error() string {
	lead := ErrPlainHTTP
	if e.Sentinel != nil {
		lead = e.Sentinel
	}
	return lead.Error() + ": refusing " + e.URL
}

// Unwrap returns ErrPlainHTTP and the caller's sentinel.
func (e *PlainHTTPError) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{ErrPlainHTTP}
	}
	return []error{ErrPlainHTTP, e.Sentinel}
}
