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
	st.meta = adapters.AppendObjectKey(st.meta, st.metaStart, k)
}

func (st *state) metaString(k string, v []byte) {
	st.metaKey(k)
	st.meta = normalize.AppendString(st.meta, adapters.View(v))
}

// metaClose ends the event's metadata object; nothing said, nothing kept.
func (st *state) metaClose() span {
	if len(st.meta) == st.metaStart {
		return span{}
	}
	st.meta = append(st.meta, '}')
	return span{st.metaStart, len(st.meta)}
}

// metaValue adds k: a copy of v (adapters.AppendJSONValue). Strings are
// re-encoded, numbers keep their exact text.
func (st *state) metaValue(k string, v *fastjson.Value, field string) error {
	st.metaKey(k)
	var ok bool
	if st.meta, ok = adapters.AppendJSONValue(st.meta, v); !ok {
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
		st.metaKey(adapters.View(k))
		if v.Type() == fastjson.TypeNumber && bytes.HasSuffix(k, []byte("app_id")) {
			n := len(st.meta)
			st.meta = v.MarshalTo(st.meta)
			if !adapters.ValidNumber(st.meta[n:]) {
				ok = false
				return
			}
			st.meta = append(st.meta[:n], '"')
			st.meta = v.MarshalTo(st.meta)
			st.meta = append(st.meta, '"')
			return
		}
		st.meta, ok = adapters.AppendJSONValue(st.meta, v)
	})
	if !ok {
		return adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return nil
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
	if !adapters.ValidNumber(st.num) {
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
	n, err := strconv.ParseInt(adapters.View(raw), 10, 64)
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
	f, err := strconv.ParseFloat(adapters.View(raw), 64)
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
