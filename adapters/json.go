package adapters

import (
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/normalize"
)

// Parsers copy parts of a webhook into an event's metadata, a JSON object
// built append-style with no encoding/json round trip. These are the
// pieces every parser copies the same way; what a channel reads, and the
// paths its errors name, stay in its adapter.

// AppendObjectKey appends key, as a member name, to the JSON object being
// built in dst[start:]: "{" before it while the object is empty
// (len(dst) == start), "," otherwise, and ":" after it. The caller
// appends the value, and "}" to close an object that got a member.
func AppendObjectKey(dst []byte, start int, key string) []byte {
	if len(dst) == start {
		dst = append(dst, '{')
	} else {
		dst = append(dst, ',')
	}
	dst = normalize.AppendString(dst, key)
	return append(dst, ':')
}

// AppendJSONValue appends v to dst as JSON, copying it exactly where
// fastjson does not check it: strings are re-encoded through
// normalize.AppendString (fastjson keeps their escapes unchecked), numbers
// keep their raw text, never through float64, and must be JSON numbers
// (fastjson lets "1-2" or "NaN" through); objects keep their member order.
// ok is false when a number is not valid; dst is then to be dropped.
// Depth is bounded by fastjson's MaxDepth.
func AppendJSONValue(dst []byte, v *fastjson.Value) (out []byte, ok bool) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		ok, first := true, true
		o.Visit(func(k []byte, vv *fastjson.Value) {
			if !ok {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = normalize.AppendString(dst, View(k))
			dst = append(dst, ':')
			dst, ok = AppendJSONValue(dst, vv)
		})
		return append(dst, '}'), ok
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, vv := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = AppendJSONValue(dst, vv); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return normalize.AppendString(dst, View(s)), true
	case fastjson.TypeNumber:
		n := len(dst)
		dst = v.MarshalTo(dst)
		return dst, ValidNumber(dst[n:])
	case fastjson.TypeTrue:
		return append(dst, "true"...), true
	case fastjson.TypeFalse:
		return append(dst, "false"...), true
	}
	return append(dst, "null"...), true
}

// ValidNumber reports whether b is one JSON number (RFC 8259 §6): an
// optional minus, an integer part without leading zeros, an optional
// fraction and exponent, nothing else.
func ValidNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(b)
}

// View views b as a string without copying. The string is valid only
// while b is unchanged (for parsers: until the parser's next Parse), so it
// is for lookups and comparisons, never stored; copy to keep.
func View(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
