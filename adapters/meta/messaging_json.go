package meta

import (
	"bytes"
	"math"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// ---- metadata, built append-style ----

func (st *state) metaKey(k string) {
	if len(st.meta) == st.metaStart {
		st.meta = append(st.meta, '{')
	} else {
		st.meta = append(st.meta, ',')
	}
	st.meta = normalize.AppendString(st.meta, k)
	st.meta = append(st.meta, ':')
}

func (st *state) metaString(k string, v []byte) {
	st.metaKey(k)
	st.meta = normalize.AppendString(st.meta, b2s(v))
}

// metaClose ends the event's metadata object; nothing said, nothing kept.
func (st *state) metaClose() span {
	if len(st.meta) == st.metaStart {
		return span{}
	}
	st.meta = append(st.meta, '}')
	return span{st.metaStart, len(st.meta)}
}

// metaValue adds k: a copy of v. Strings are re-encoded, numbers keep
// their exact text.
func (st *state) metaValue(k string, v *fastjson.Value, field string) error {
	st.metaKey(k)
	var ok bool
	if st.meta, ok = appendValue(st.meta, v); !ok {
		return adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return nil
}

// metaFields copies every member of object o into the metadata, flat, in
// order, except nulls, skip and the keys Parse writes itself (kind,
// standby, and user_ref when the person is one), so that no key appears
// twice. Numbers under keys ending in
// app_id become strings: app ids are 64-bit and a JSON reader would round
// them.
func (st *state) metaFields(d *draft, o *fastjson.Value, field, skip string) error {
	obj, err := o.Object()
	if err != nil {
		return st.wrongType(field, "object", o)
	}
	ok := true
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if !ok || v.Type() == fastjson.TypeNull || string(k) == skip || string(k) == "kind" || string(k) == "standby" ||
			d.userRef && string(k) == "user_ref" {
			return
		}
		st.metaKey(b2s(k))
		if v.Type() == fastjson.TypeNumber && bytes.HasSuffix(k, []byte("app_id")) {
			n := len(st.meta)
			st.meta = v.MarshalTo(st.meta)
			if !validNumber(st.meta[n:]) {
				ok = false
				return
			}
			st.meta = append(st.meta[:n], '"')
			st.meta = v.MarshalTo(st.meta)
			st.meta = append(st.meta, '"')
			return
		}
		st.meta, ok = appendValue(st.meta, v)
	})
	if !ok {
		return adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return nil
}

// appendValue appends v as JSON: strings through normalize.AppendString,
// numbers as their validated raw text. Depth is bounded by fastjson's
// MaxDepth.
func appendValue(dst []byte, v *fastjson.Value) ([]byte, bool) {
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
			dst = normalize.AppendString(dst, b2s(k))
			dst = append(dst, ':')
			dst, ok = appendValue(dst, vv)
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
			if dst, ok = appendValue(dst, vv); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return normalize.AppendString(dst, b2s(s)), true
	case fastjson.TypeNumber:
		n := len(dst)
		dst = v.MarshalTo(dst)
		return dst, validNumber(dst[n:])
	case fastjson.TypeTrue:
		return append(dst, "true"...), true
	case fastjson.TypeFalse:
		return append(dst, "false"...), true
	}
	return append(dst, "null"...), true
}

// validNumber reports whether b is a JSON number (RFC 8259 §6).
func validNumber(b []byte) bool {
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

// ---- typed field access; absent and null read as "not there" ----

func present(v *fastjson.Value) bool { return v != nil && v.Type() != fastjson.TypeNull }

func (st *state) str(o *fastjson.Value, key, field string) ([]byte, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeString {
		return nil, st.wrongType(field, "string", v)
	}
	b, _ := v.StringBytes()
	if b == nil {
		b = []byte{} // present but empty
	}
	return b, nil
}

func (st *state) obj(o *fastjson.Value, key, field string) (*fastjson.Value, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, st.wrongType(field, "object", v)
	}
	return v, nil
}

func (st *state) arr(o *fastjson.Value, key, field string) ([]*fastjson.Value, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeArray {
		return nil, st.wrongType(field, "array", v)
	}
	a, _ := v.Array()
	return a, nil
}

func (st *state) bool(o *fastjson.Value, key, field string) (bool, error) {
	v := o.Get(key)
	if !present(v) {
		return false, nil
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	}
	return false, st.wrongType(field, "boolean", v)
}

// number returns the raw text of number v (valid until the next call),
// refusing what is not JSON number syntax (fastjson lets "1-2" or "NaN"
// through).
func (st *state) number(v *fastjson.Value, field string) ([]byte, error) {
	st.num = v.MarshalTo(st.num[:0])
	if !validNumber(st.num) {
		return nil, adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return st.num, nil
}

// int reads an integer (epoch milliseconds, counters).
func (st *state) int(o *fastjson.Value, key, field string) (int64, bool, error) {
	v := o.Get(key)
	if !present(v) {
		return 0, false, nil
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, false, st.wrongType(field, "integer", v)
	}
	raw, err := st.number(v, field)
	if err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(b2s(raw), 10, 64)
	if err != nil {
		return 0, false, adapters.Inputf(codeWrongType, "%s: want a 64-bit integer", st.at(field))
	}
	return n, true, nil
}

func (st *state) float(o *fastjson.Value, key, field string) (float64, error) {
	v := o.Get(key)
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, st.wrongTypeOrMissing(field, "number", v)
	}
	raw, err := st.number(v, field)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(b2s(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, adapters.Inputf(codeWrongType, "%s: want a finite number", st.at(field))
	}
	return f, nil
}

// id reads an id Meta sends as a number (app ids, sticker ids) or a
// string, returning its exact decimal text: never through float64. The
// result is valid until the next call.
func (st *state) id(o *fastjson.Value, key, field string) ([]byte, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return b, nil
	case fastjson.TypeNumber:
		raw, err := st.number(v, field)
		if err != nil {
			return nil, err
		}
		for _, c := range raw {
			if c < '0' || c > '9' {
				return nil, adapters.Inputf(codeWrongType, "%s: want an integer id", st.at(field))
			}
		}
		return raw, nil
	}
	return nil, st.wrongType(field, "string or integer", v)
}

// ---- errors ----

// at renders the path of field in the current item, e.g.
// entry[0].messaging[1].sender.id. Only called on error paths.
func (st *state) at(field string) string {
	b := make([]byte, 0, 64)
	if st.entry >= 0 {
		b = append(b, "entry["...)
		b = strconv.AppendInt(b, int64(st.entry), 10)
		b = append(b, ']')
		if st.list != "" {
			b = append(b, '.')
			b = append(b, st.list...)
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(st.item), 10)
			b = append(b, ']')
		}
		if st.sub != "" {
			b = append(b, '.')
			b = append(b, st.sub...)
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(st.subI), 10)
			b = append(b, ']')
		}
	}
	if field != "" {
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, field...)
	}
	return string(b)
}

// entryAt is the path of a field of the current entry.
func (st *state) entryAt(field string) string {
	return "entry[" + strconv.Itoa(st.entry) + "]." + field
}

func (st *state) wrongType(field, want string, v *fastjson.Value) error {
	path := st.at(field)
	if path == "" {
		path = "body"
	}
	return adapters.Inputf(codeWrongType, "%s: want %s, got %s", path, want, v.Type())
}

func (st *state) wrongTypeOrMissing(field, want string, v *fastjson.Value) error {
	if v == nil {
		return adapters.Inputf(codeMissing, "%s: required", st.at(field))
	}
	return st.wrongType(field, want, v)
}
