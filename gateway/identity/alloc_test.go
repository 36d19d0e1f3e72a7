//go:build !race

package identity

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/store"
)

// The race detector allocates on its own, so these pins run without it.

// A cached lookup allocates nothing: the visitor id and profile come back
// as stored, and ristretto's access buffer is reused (it allocates a fresh
// stripe about once per 64 lookups, which rounds to zero per call).
func TestCachedLookupAllocs(t *testing.T) {
	st := newMapStore()
	st.m[store.BucketIdentity+"/k"] = "v_x" // a cache miss reads it (and allocates)
	r := newResolver(t, st, "k")
	r.Remember("k", "v_x")
	r.users.Wait()
	if _, err := r.Profile("v_x"); err != nil {
		t.Fatal(err)
	}
	r.profiles.Wait()
	if v, _, err := r.Resolve("k"); err != nil || v != "v_x" {
		t.Fatalf("Resolve: %q, %v", v, err)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Resolve("k") }); n != 0 {
		t.Errorf("cached Resolve: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Profile("v_x") }); n != 0 {
		t.Errorf("cached Profile: %v allocs, want 0", n)
	}
}

// TestResolveThroughAView: the pipeline looks a person up by a view of
// its key in a reused buffer; a known person's lookup so allocates
// nothing at all (ChannelUserKey's string cost one per event), and
// nothing of the view is kept: after the buffer is overwritten, both the
// old key and the new one resolve to their own ids.
func TestResolveThroughAView(t *testing.T) {
	a, b := ChannelUserKey("messenger", "1/c/2"), ChannelUserKey("messenger", "1/c/3")
	st := newMapStore()
	st.m[store.BucketIdentity+"/"+a] = "v_a"
	st.m[store.BucketIdentity+"/"+b] = "v_b"
	r := newResolver(t, st, "k")
	var buf []byte
	resolve := func(path string) string {
		buf = AppendChannelUserKey(buf[:0], "messenger", path)
		v, _, err := r.Resolve(adapters.View(buf))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := resolve("1/c/2"); v != "v_a" { // a miss: read from the store, cached
		t.Fatalf("first lookup %q", v)
	}
	r.users.Wait()
	if v := resolve("1/c/3"); v != "v_b" { // the buffer now holds b's key
		t.Fatalf("second lookup %q", v)
	}
	r.users.Wait()
	if v, _, _ := r.Resolve(a); v != "v_a" {
		t.Fatalf("a after the buffer changed: %q", v)
	}
	if string(buf) != b {
		t.Fatalf("AppendChannelUserKey wrote %q, want %q", buf, b)
	}
	if n := testing.AllocsPerRun(1000, func() { resolve("1/c/2") }); n != 0 {
		t.Errorf("a known person's lookup through a view: %v allocs, want 0", n)
	}
}
