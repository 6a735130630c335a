package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"github.com/oci-attest/oci-attest/internal/retry"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	rekorutil "github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/sign"
	sgutil "github.com/sigstore/sigstore-go/pkg/util"
	"google.golang.org/protobuf/encoding/protojson"
)

// errLogConflict is a Rekor v2 answer 409 Conflict: an entry for exactly
// this signature is already in the log. After a retried POST it is the
// first attempt's entry, whose answer was lost. bundleWith then signs again
// (ARCHITECTURE.md, "Retries and deadlines").
var errLogConflict = errors.New("an equivalent entry is already in the transparency log")

// rekorV2 adds entries to a Rekor v2 log (rekor-tiles) through the retry
// policy. It replaces the write client sigstore-go v1.3.0 builds itself
// (rekor-tiles v2.3.0 pkg/client/write.NewWriter): that client sends each
// entry once over http.DefaultTransport with a 30 s timeout, takes no
// transport, and reports a 503 as "unexpected response: 503 …". The
// protocol is the same: POST a protojson CreateEntryRequest to
// /api/v2/log/entries, 201 Created with a protojson TransparencyLogEntry.
type rekorV2 struct {
	endpoint string
	client   *http.Client
}

var _ sign.RekorV2Client = (*rekorV2)(nil)

// maxLogAnswer bounds the answer read from Rekor: an entry with its
// inclusion proof and checkpoint is a few KiB.
const maxLogAnswer = 1 << 20

func newRekorV2(base string, c *http.Client) (*rekorV2, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parsing the Rekor URL %s: %w", base, err)
	}
	u.Path = path.Join(u.Path, "/api/v2/log/entries")
	return &rekorV2{endpoint: u.String(), client: c}, nil
}

// Add implements sign.RekorV2Client.
func (r *rekorV2) Add(ctx context.Context, entry any) (*protorekor.TransparencyLogEntry, error) {
	h, ok := entry.(*rekortilespb.HashedRekordRequestV002)
	if !ok {
		return nil, fmt.Errorf("rekor v2 entry of type %T is not supported", entry)
	}
	payload, err := protojson.Marshal(&rekortilespb.CreateEntryRequest{
		Spec: &rekortilespb.CreateEntryRequest_HashedRekordRequestV002{HashedRekordRequestV002: h},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the rekor v2 entry: %w", err)
	}
	// bytes.NewReader: NewRequest sets GetBody, so the transport can replay
	// the POST.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", sgutil.ConstructUserAgent())
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLogAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading Rekor's answer: %w", unwrapURLError(err))
	}
	if len(body) > maxLogAnswer {
		return nil, fmt.Errorf("the answer of Rekor is larger than %d bytes", maxLogAnswer)
	}
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusConflict:
		return nil, fmt.Errorf("%w (Rekor answered HTTP 409 %s)", errLogConflict, logMessage(body))
	default:
		return nil, logAnswer(resp.StatusCode, logMessage(body))
	}
	tle := &protorekor.TransparencyLogEntry{}
	if err := protojson.Unmarshal(body, tle); err != nil {
		return nil, fmt.Errorf("decoding Rekor's answer: %w", err)
	}
	return tle, nil
}

// logAnswer is the error of a Rekor answer other than the one expected:
// its status and the log's own message (quoted).
func logAnswer(status int, message string) error {
	return fmt.Errorf("the Rekor log answered HTTP %d %s: %s", status, http.StatusText(status), message)
}

// logMessage is the message of a Rekor error answer (rekor-tiles'
// grpc-gateway {"code":…,"message":…}, Rekor v1's {"code":…,"message":…}),
// or the start of its body, quoted.
func logMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	s := string(body)
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		s = e.Message
	}
	return quoteMessage(s)
}

// quoteMessage quotes a remote's message, trimmed to 256 bytes.
func quoteMessage(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// lastAnswer is a transport that keeps the message of the last error
// answer (4xx, 5xx) it passed on. A *retry.Error for a status that
// outlasted the retries carries no body: with this, sign still shows the
// log's own words ("error communicating with backend" from a Rekor v1 whose
// Trillian is down). It reads up to 4 KiB of such an answer and hands the
// whole answer on.
type lastAnswer struct {
	next http.RoundTripper // nil: http.DefaultTransport

	mu  sync.Mutex
	msg string
}

func (l *lastAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	next := l.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	l.mu.Lock()
	l.msg = logMessage(head)
	l.mu.Unlock()
	return resp, nil
}

// message is the last error answer's message ("" without one).
func (l *lastAnswer) message() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}

// errLogNotIntegrated is a Rekor v1 that answered 409 for an entry (it was
// queued by an earlier attempt whose answer was lost) and kept answering
// 404 for it for a whole request's budget: its log signer has not
// integrated it (ARCHITECTURE.md, "Retries and deadlines").
var errLogNotIntegrated = errors.New("the entry Rekor accepted is not in its log")

// rekorV1 is a Rekor v1 client (sigstore-go's RekorClient) of two of Rekor
// v1.5.3's generated clients under the retry policy: one writes entries,
// and one fetches the entry a 409 names, asking again while Rekor answers
// 404 for it (untilIntegrated). Error answers are worded as the Rekor v2
// client words them.
type rekorV1 struct {
	write, fetch entries.ClientService
	timeout      time.Duration // the library backstop (libraryTimeout)
}

var _ sign.RekorClient = (*rekorV1)(nil)

// CreateLogEntry implements sign.RekorClient. A 409 is handed on as is:
// sigstore-go then fetches the entry it names (GetLogEntryByUUID).
func (r *rekorV1) CreateLogEntry(params *entries.CreateLogEntryParams, opts ...entries.ClientOption) (*entries.CreateLogEntryCreated, error) {
	resp, err := r.write.CreateLogEntry(params, opts...)
	var conflict *entries.CreateLogEntryConflict
	if err == nil || errors.As(err, &conflict) {
		return resp, err
	}
	return nil, v1Answer(err)
}

// GetLogEntryByUUID implements sign.RekorClient: it fetches the entry a 409
// named, within one request's budget (the backstop above it, instead of
// go-openapi's 30 s).
func (r *rekorV1) GetLogEntryByUUID(params *entries.GetLogEntryByUUIDParams, opts ...entries.ClientOption) (*entries.GetLogEntryByUUIDOK, error) {
	params.SetTimeout(r.timeout)
	start := time.Now()
	resp, err := r.fetch.GetLogEntryByUUID(params, opts...)
	var missing *entries.GetLogEntryByUUIDNotFound
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("%w: Rekor answered 409 for it (an earlier attempt's entry, whose answer was lost) but still 404 after %v: its log signer is slow or stopped; the entry may appear in the log later, where no bundle refers to it",
			errLogNotIntegrated, time.Since(start).Round(time.Millisecond))
	case err != nil:
		return nil, v1Answer(err)
	}
	return resp, nil
}

// v1Answer words an error answer of Rekor v1's generated client (its
// status and the log's message) as logAnswer does; other errors stay.
func v1Answer(err error) error {
	var answer interface {
		Code() int
		GetPayload() *models.Error
	}
	if errors.As(err, &answer) && answer.GetPayload() != nil {
		return logAnswer(answer.Code(), quoteMessage(answer.GetPayload().Message))
	}
	return err
}

// untilIntegrated decides the retries of fetching the entry a 409 named: a
// 404 means Rekor has the entry queued in Trillian but its signer has not
// integrated it yet, so it is asked again about every second for as long
// as the policy's budget of one request allows; any other answer is the
// policy's to decide.
func untilIntegrated(p retry.Policy) func(int, *http.Response, error) (time.Duration, error) {
	return func(attempt int, resp *http.Response, err error) (time.Duration, error) {
		if err == nil && resp.StatusCode == http.StatusNotFound {
			return min(retry.Backoff(attempt), retry.Jitter(time.Second, 0.2)), nil
		}
		return p.Retry(attempt, resp, err)
	}
}

// newRekorV1 is the Rekor v1 client of base: its writes over write, its
// fetches of a conflicting entry over fetch. Each generated client is built
// as rekor v1.5.3's pkg/client.GetRekorClient builds it (base path,
// consumers, producers, the signedCheckpoint format) but without its
// go-retryablehttp client, whose retries (RetryCount, 3 by default;
// sigstore-go passes its Retries) would multiply ours and report in words
// of their own.
func newRekorV1(base string, write, fetch *http.Client, timeout time.Duration) (*rekorV1, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parsing the Rekor URL %s: %w", base, err)
	}
	if u.Path == "" {
		u.Path = rekorclient.DefaultBasePath
	}
	generated := func(c *http.Client) entries.ClientService {
		rt := httptransport.NewWithClient(u.Host, u.Path, []string{u.Scheme}, c)
		rt.Consumers["application/json"] = runtime.JSONConsumer()
		rt.Consumers["application/x-pem-file"] = runtime.TextConsumer()
		rt.Producers["application/json"] = runtime.JSONProducer()
		registry := strfmt.Default
		registry.Add("signedCheckpoint", &rekorutil.SignedNote{}, rekorutil.SignedCheckpointValidator)
		return rekorclient.New(rt, registry).Entries
	}
	return &rekorV1{write: generated(write), fetch: generated(fetch), timeout: timeout}, nil
}
