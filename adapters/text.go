package adapters

import (
	"strings"
	"unicode/utf8"
)

// Ellipsis ends a text that Truncate cut.
const Ellipsis = "…"

// Truncate cuts s to n characters (runes), the last being Ellipsis, and
// reports whether it did. Spaces left before the ellipsis are dropped, so
// the result may be shorter than n; a string of at most n characters comes
// back as it is. n must be at least 1.
//
// It counts as most platforms count their limits; a channel that counts
// otherwise (Telegram's UTF-16 units, Instagram's bytes) cuts its own way.
func Truncate(s string, n int) (string, bool) {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s, false
	}
	i, k := 0, 0
	for k < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	return strings.TrimRight(s[:i], " ") + Ellipsis, true
}

// IsWebURL is a cheap check for an absolute http(s) URL: the scheme in
// lower case, a host part that does not start with "/", and no white
// space or control characters (bytes up to 0x20, and 0x7f). It does not
// parse the URL; the platform checks the rest. A channel with stricter
// rules (a host it requires, WhatsApp's parsed URLs) checks them itself.
func IsWebURL(s string) bool {
	var rest string
	switch {
	case strings.HasPrefix(s, "https://"):
		rest = s[len("https://"):]
	case strings.HasPrefix(s, "http://"):
		rest = s[len("http://"):]
	default:
		return false
	}
	if rest == "" || rest[0] == '/' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// IsE164 accepts a phone number in E.164 form: "+" and 7 to 15 digits,
// nothing else (no spaces, dashes or parentheses).
func IsE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
