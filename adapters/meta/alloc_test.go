//go:build !race

package meta

import "testing"

// TestAppendFormAllocs: a batched call's form is built in pooled buffers:
// once they are warm, nothing is allocated (a scratch of each call's own
// grew 8 times for this reply). Not under -race, whose
// sync.Pool drops items at random.
func TestAppendFormAllocs(t *testing.T) {
	obj := []byte(`{"recipient":{"id":"7023456789012345"},"messaging_type":"RESPONSE","message":{"text":"Your order 48213 shipped","quick_replies":[{"content_type":"text","title":"Track","payload":"TRACK"}]}}`)
	var form, scratch []byte
	if n := testing.AllocsPerRun(200, func() {
		var ok bool
		if form, ok = appendForm(form[:0], &scratch, obj, "EAAB-token"); !ok {
			t.Fatal("not an object")
		}
	}); n != 0 {
		t.Errorf("appendForm allocates %.0f times, want 0", n)
	}
}
