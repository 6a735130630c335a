package sign

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
)

// Names of the remotes in errors (retry.Error.Service).
const (
	serviceFulcio = "Fulcio"
	serviceRekor  = "Rekor"
	serviceTSA    = "timestamp authority"
	serviceTUF    = "TUF repository"
	serviceToken  = "GitHub Actions ID token endpoint" //nolint:gosec // a service name, not a credential
)

// policy is the retry policy of every request sign sends (ARCHITECTURE.md,
// "Retries and deadlines"): the product's, with request-timeout as the
// deadline of one attempt. retries is Policy.Retries (0: the default);
// only tests change it (export_test.go).
func policy(timeout time.Duration, retries int) retry.Policy {
	return retry.Policy{Timeout: timeout, Retries: retries}
}

// libraryTimeout is the whole-request timeout handed to client libraries
// that insist on one (sigstore-go v1.3.0 defaults Fulcio, TSA and Rekor v1
// to 30 s, go-openapi to 30 s): a backstop above everything the policy
// allows, so that the policy's deadlines and its error decide, never the
// library's "Client.Timeout exceeded" in the middle of a retry.
func libraryTimeout(p retry.Policy) time.Duration { return p.Total() + time.Minute }

// client is the http.Client of one remote (retry.NewClient): base's
// settings (Options.HTTPClient) under the plain-HTTP guard — loopback only,
// no opt-in: a private Sigstore instance serves HTTPS —, origin-scoped
// redirects and the policy, with FailOnStatus (sigstore-go v1.3.0's Fulcio
// and TSA clients mishandle a final 5xx, and a named error with attempts is
// better than a library's "unexpected response" for every other client
// too). Every request is bound to ctx: sigstore-go's Fulcio and TSA clients
// and go-tuf's fetcher build theirs with http.NewRequest, and a
// Client.Timeout gives them only a deadline from Background, so that
// cancelling the run stops them and their waits between attempts.
func client(ctx context.Context, base *http.Client, p retry.Policy, service string) *http.Client {
	return retry.NewClient(retry.ClientOptions{
		Service: service, Policy: p, FailOnStatus: true, Context: ctx, Base: base,
	})
}

// retryError is the *retry.Error in err's chain, if any: the failure of a
// remote after the policy's attempts, which names the service and its host,
// the last status or error and the attempts (its Method and URL, without
// query, say which request).
func retryError(err error) (*retry.Error, bool) {
	var re *retry.Error
	ok := errors.As(err, &re)
	return re, ok
}

// remotes is how one run reaches the Sigstore services: base transport,
// policy, the run's context.
type remotes struct {
	ctx  context.Context
	base http.RoundTripper
	p    retry.Policy
}

func (o Options) remotes(ctx context.Context) remotes {
	return remotes{ctx: ctx, base: o.transport(), p: o.policy()}
}

// transport is the transport of client for a library that builds its own
// client from one: the guard, the retries and the binding hold, redirects
// follow the library's client.
func (r remotes) transport(service string) http.RoundTripper {
	return client(r.ctx, &http.Client{Transport: r.base}, r.p, service).Transport
}

// fulcio is sigstore-go's Fulcio client with its own retries off: in v1.3.0
// its loop closes the body of a last 5xx or 429 and then reads it ("http:
// read on closed response body"), and sleeps 1 s even with Retries 0. The
// transport retries instead, and turns a status that outlasts the retries
// into a *retry.Error before the client sees it.
func (r remotes) fulcio(base string) sgsign.CertificateProvider {
	return sgsign.NewFulcio(&sgsign.FulcioOptions{
		BaseURL: base, Retries: 0, Timeout: libraryTimeout(r.p), Transport: r.transport(serviceFulcio),
	})
}

// tsa is sigstore-go's timestamp client with its own retries off: the same
// loop as Fulcio's, with the same fault, in v1.3.0.
func (r remotes) tsa(u string) *sgsign.TimestampAuthority {
	return sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{
		URL: u, Retries: 0, Timeout: libraryTimeout(r.p), Transport: r.transport(serviceTSA),
	})
}

// rekor is sigstore-go's Rekor with clients of ours on client's http.Client
// (rekor.go): sigstore-go v1.3.0 would build a Rekor v2 client that never
// retries and ignores any transport, and a Rekor v1 client with
// go-retryablehttp's retries. The lastAnswer it returns, below the guard
// and the retries, keeps the log's message of its last error answer.
func (r remotes) rekor(s rekorService) (sgsign.Transparency, *lastAnswer, error) {
	said := &lastAnswer{next: r.base}
	o := &sgsign.RekorOptions{BaseURL: s.URL, Version: s.Version, Retries: 0, Timeout: libraryTimeout(r.p)}
	if s.Version == 2 {
		v2, err := newRekorV2(s.URL, r.rekorClient(said, nil))
		if err != nil {
			return nil, nil, err
		}
		o.ClientV2 = v2
		return sgsign.NewRekor(o), said, nil
	}
	v1, err := r.rekorV1Client(s.URL, said)
	if err != nil {
		return nil, nil, err
	}
	o.Client = v1
	return sgsign.NewRekor(o), said, nil
}

// rekorV1Client is the Rekor v1 client of rekor: its writes under the
// policy, its fetches of the entry a 409 names asking again while the log
// answers 404 (untilIntegrated), both over said.
func (r remotes) rekorV1Client(url string, said *lastAnswer) (*rekorV1, error) {
	return newRekorV1(url, r.rekorClient(said, nil), r.rekorClient(said, untilIntegrated(r.p)), libraryTimeout(r.p))
}

// rekorClient is Rekor's client over said: client's, with decide (nil: the
// policy's) deciding its retries.
func (r remotes) rekorClient(said *lastAnswer, decide func(int, *http.Response, error) (time.Duration, error)) *http.Client {
	return retry.NewClient(retry.ClientOptions{
		Service: serviceRekor, Policy: r.p, Decide: decide, FailOnStatus: true, Context: r.ctx,
		Base: &http.Client{Transport: said, Timeout: libraryTimeout(r.p)},
	})
}
