package adapters

import "encoding/json"

// MergePatch applies patch to target as a JSON merge patch (RFC 7386), the
// way a reply's channel_data amends a rendered body: an object merges
// member by member (a target that is not an object counts as {}), null
// deletes a member, any other value replaces it, and a patch that is not
// an object replaces the target. Members come out sorted by name, in
// encoding/json's form (HTML-escaped strings). patch's members must be
// valid JSON.
func MergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil || p == nil {
		return patch, nil // not an object: replaces the target
	}
	var t map[string]json.RawMessage
	if err := json.Unmarshal(target, &t); err != nil || t == nil {
		t = map[string]json.RawMessage{}
	}
	for k, v := range p {
		if string(v) == "null" {
			delete(t, k)
			continue
		}
		m, err := MergePatch(t[k], v)
		if err != nil {
			return nil, err
		}
		t[k] = m
	}
	return json.Marshal(t)
}
