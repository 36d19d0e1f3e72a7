package identity

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

type mapStore map[string]string

func (m mapStore) Get(bucket, key string) ([]byte, error) {
	if v, ok := m[bucket+"/"+key]; ok {
		return []byte(v), nil
	}
	return nil, nil
}

// TestDeriveIsDeterministicAndDistinct checks every instance derives the
// same id for a key and different keys get different ids.
func TestDeriveIsDeterministicAndDistinct(t *testing.T) {
	a := Derive(ChannelUserKey("messenger", "1/c/2"))
	if a != Derive(ChannelUserKey("messenger", "1/c/2")) {
		t.Fatal("Derive is not deterministic")
	}
	if !strings.HasPrefix(a, "v_") || len(a) != 28 || strings.ToLower(a) != a {
		t.Fatalf("visitor id %q: want v_ and 26 lowercase base32 characters", a)
	}
	seen := map[string]string{}
	for _, k := range []string{
		ChannelUserKey("messenger", "1/c/2"), ChannelUserKey("instagram", "1/c/2"),
		ChannelUserKey("messenger", "1/c/3"), ChannelUserKey("messenger", "2/c/2"),
		ChannelUserKey("viber", "b/c/a+b/c="),
	} {
		v := Derive(k)
		if other, dup := seen[v]; dup {
			t.Fatalf("%s and %s share visitor id %s", k, other, v)
		}
		seen[v] = k
	}
}

// TestResolve checks the store wins over derivation, new users are
// reported as new, and Remember/Forget drive the cache.
func TestResolve(t *testing.T) {
	st := mapStore{store.BucketIdentity + "/known": "v_linked"}
	r, err := New(st, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v, isNew, err := r.Resolve("known")
	if err != nil || v != "v_linked" || isNew {
		t.Fatalf("known: %q %v %v", v, isNew, err)
	}
	v, isNew, err = r.Resolve("fresh")
	if err != nil || v != Derive("fresh") || !isNew {
		t.Fatalf("fresh: %q %v %v", v, isNew, err)
	}
	r.Remember("fresh", "v_cached")
	r.cache.Wait()
	if v, isNew, _ = r.Resolve("fresh"); v != "v_cached" || isNew {
		t.Fatalf("after Remember: %q %v", v, isNew)
	}
	r.Forget("fresh")
	r.cache.Wait()
	if v, isNew, _ = r.Resolve("fresh"); v != Derive("fresh") || !isNew {
		t.Fatalf("after Forget: %q %v", v, isNew)
	}
}

func BenchmarkResolveCached(b *testing.B) {
	r, _ := New(mapStore{}, 1000)
	defer r.Close()
	r.Remember("k", "v_x")
	r.cache.Wait()
	b.ReportAllocs()
	for b.Loop() {
		r.Resolve("k")
	}
}
