package sign

// WithRetries returns o with the retry policy's Retries set to n (negative:
// none), so that a test of a service that stays down does not wait for the
// product's five retries.
func WithRetries(o Options, n int) Options {
	o.retries = n
	return o
}
