package pipeline

import (
	"errors"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// ErrInvalidUTF8 is a body that is not valid UTF-8.
var ErrInvalidUTF8 = &adapters.InputError{Code: "invalid_utf8", Msg: "body is not valid UTF-8"}

// ErrEmptyBody is a POST without a body.
var ErrEmptyBody = &adapters.InputError{Code: "empty_body", Msg: "body is empty"}

// Accept runs the inbound path of one webhook: verify the signature over
// the raw body, check UTF-8, parse into canonical events appended to dst.
// The server and the offline normalize command share it, so both accept
// and refuse exactly the same requests.
func Accept(in adapters.Inbound, h adapters.Peeker, body []byte, dst []normalize.Event) ([]normalize.Event, error) {
	if err := in.Verify(h, body); err != nil {
		return dst, err
	}
	if len(body) == 0 {
		return dst, ErrEmptyBody
	}
	if !utf8.Valid(body) {
		return dst, ErrInvalidUTF8
	}
	return in.Parse(dst, body)
}

// Status maps an Accept error to an HTTP status and a short code.
func Status(err error) (status int, code string) {
	var ie *adapters.InputError
	switch {
	case errors.Is(err, adapters.ErrMissingSignature):
		return 401, "missing_signature"
	case errors.Is(err, adapters.ErrBadSignature):
		return 401, "bad_signature"
	case errors.Is(err, adapters.ErrHandshake):
		return 403, "handshake_refused"
	case errors.As(err, &ie):
		return 400, ie.Code
	}
	return 500, "internal"
}
