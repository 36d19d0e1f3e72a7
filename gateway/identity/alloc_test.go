//go:build !race

package identity

import (
	"testing"

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
