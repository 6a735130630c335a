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

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekortilespb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
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
		return nil, fmt.Errorf("the Rekor log answered HTTP %d %s: %s", resp.StatusCode, http.StatusText(resp.StatusCode), logMessage(body))
	}
	tle := &protorekor.TransparencyLogEntry{}
	if err := protojson.Unmarshal(body, tle); err != nil {
		return nil, fmt.Errorf("decoding Rekor's answer: %w", err)
	}
	return tle, nil
}

// logMessage is the message of a Rekor error answer (grpc-gateway's
// {"code":…,"message":…}), or the start of its body, quoted.
func logMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	s := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		s = e.Message
	}
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// newRekorV1 is Rekor v1's generated client over c, built as rekor v1.5.3's
// pkg/client.GetRekorClient builds it (base path, consumers, producers, the
// signedCheckpoint format) but without its go-retryablehttp client, whose
// retries (RetryCount, 3 by default; sigstore-go passes its Retries) would
// multiply ours and report in words of their own.
func newRekorV1(base string, c *http.Client) (sign.RekorClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parsing the Rekor URL %s: %w", base, err)
	}
	if u.Path == "" {
		u.Path = rekorclient.DefaultBasePath
	}
	rt := httptransport.NewWithClient(u.Host, u.Path, []string{u.Scheme}, c)
	rt.Consumers["application/json"] = runtime.JSONConsumer()
	rt.Consumers["application/x-pem-file"] = runtime.TextConsumer()
	rt.Producers["application/json"] = runtime.JSONProducer()
	registry := strfmt.Default
	registry.Add("signedCheckpoint", &rekorutil.SignedNote{}, rekorutil.SignedCheckpointValidator)
	return rekorclient.New(rt, registry).Entries, nil
}
