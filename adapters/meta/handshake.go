package meta

import (
	"bytes"
	"crypto/subtle"
	"fmt"

	"github.com/switchboard-gw/switchboard/adapters"
)

// ErrHandshake is returned by Handshake for a refused verification; it
// wraps adapters.ErrHandshake.
var ErrHandshake = fmt.Errorf("meta: %w", adapters.ErrHandshake)

var (
	errHubMode      = fmt.Errorf("%w: hub.mode is not subscribe", ErrHandshake)
	errHubToken     = fmt.Errorf("%w: hub.verify_token does not match", ErrHandshake)
	errHubNoToken   = fmt.Errorf("%w: no verify token configured", ErrHandshake)
	errHubChallenge = fmt.Errorf("%w: hub.challenge empty, too long or not a plain token", ErrHandshake)
)

// maxChallenge bounds the echoed hub.challenge. Meta sends a decimal
// integer; anything long or unprintable is not Meta and is not reflected.
const maxChallenge = 256

// Handshake answers Meta's webhook verification GET (channels/meta.md §1):
// hub.mode must be "subscribe" and hub.verify_token must equal verifyToken
// (compared in constant time; only the length can leak). It returns a copy
// of hub.challenge, to be answered as text/plain with status 200; any error
// wraps ErrHandshake and should be answered 403.
//
// An empty configured token refuses every request, and the challenge must
// be 1–256 bytes of URL-unreserved characters (A–Z a–z 0–9 - . _ ~), so
// that the endpoint never reflects markup or header-breaking content.
func Handshake(verifyToken []byte, q adapters.Peeker) ([]byte, error) {
	if string(q.Peek("hub.mode")) != "subscribe" {
		return nil, errHubMode
	}
	if len(verifyToken) == 0 {
		return nil, errHubNoToken
	}
	if subtle.ConstantTimeCompare(q.Peek("hub.verify_token"), verifyToken) != 1 {
		return nil, errHubToken
	}
	c := q.Peek("hub.challenge")
	if len(c) == 0 || len(c) > maxChallenge {
		return nil, errHubChallenge
	}
	for _, b := range c {
		if !unreserved(b) {
			return nil, errHubChallenge
		}
	}
	return bytes.Clone(c), nil
}

// unreserved reports whether b is an RFC 3986 unreserved character.
func unreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}
