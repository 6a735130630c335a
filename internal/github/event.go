package github

import (
	"encoding/json"
	"fmt"
	"os"
)

// maxEvent bounds the event payload read (GitHub's webhook payloads are at
// most 25 MB).
const maxEvent = 32 << 20

// Owner kinds an event payload can tell.
const (
	OwnerOrganization = "Organization"
	OwnerUser         = "User"
)

// OwnerType reads from a workflow's event payload (GITHUB_EVENT_PATH)
// whether the repository's owner is an organisation or a user:
// repository.owner.type, else the payload's "organization" (sent for
// organisations' repositories). It returns OwnerOrganization, OwnerUser, or
// "" when the payload does not say.
func OwnerType(eventPath string) (string, error) {
	f, err := os.Open(eventPath)
	if err != nil {
		return "", fmt.Errorf("reading the event payload: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading the event payload: %w", err)
	}
	if fi.Size() > maxEvent {
		return "", fmt.Errorf("reading the event payload %s: larger than %d bytes", eventPath, maxEvent)
	}
	var ev struct {
		Repository *struct {
			Owner *struct {
				Type string `json:"type"`
			} `json:"owner"`
		} `json:"repository"`
		Organization *struct {
			Login string `json:"login"`
		} `json:"organization"`
	}
	if err := json.NewDecoder(f).Decode(&ev); err != nil {
		return "", fmt.Errorf("parsing the event payload %s: %w", eventPath, err)
	}
	if r := ev.Repository; r != nil && r.Owner != nil {
		switch r.Owner.Type {
		case OwnerOrganization, OwnerUser:
			return r.Owner.Type, nil
		}
	}
	if ev.Organization != nil && ev.Organization.Login != "" {
		return OwnerOrganization, nil
	}
	return "", nil
}
