package identity

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

// mapStore is an in-memory Store that counts reads, so tests can tell a
// cache hit from a store read.
type mapStore struct {
	mu    sync.Mutex
	m     map[string]string
	reads int
}

func newMapStore() *mapStore { return &mapStore{m: map[string]string{}} }

func (s *mapStore) Get(bucket, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if v, ok := s.m[bucket+"/"+key]; ok {
		return []byte(v), nil
	}
	return nil, nil
}

func (s *mapStore) Put(bucket, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[bucket+"/"+key] = string(value)
	return nil
}

func (s *mapStore) PutIfAbsent(bucket, key string, value []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[bucket+"/"+key]; ok {
		return []byte(v), nil
	}
	s.m[bucket+"/"+key] = string(value)
	return value, nil
}

func (s *mapStore) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

func newResolver(t testing.TB, s Store, key string) *Resolver {
	t.Helper()
	r, err := New(s, Options{CacheItems: 1000, Key: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
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

// TestProvidedVisitorIDIsKeyedAndDeterministic: two instances with the
// same identity key derive the same visitor id for a provided id without
// talking to each other; another key derives another id.
func TestProvidedVisitorIDIsKeyedAndDeterministic(t *testing.T) {
	a := newResolver(t, newMapStore(), "install-key-0123456789")
	b := newResolver(t, newMapStore(), "install-key-0123456789")
	c := newResolver(t, newMapStore(), "another-key-0123456789")
	va, vb, vc := a.ProvidedVisitorID("cust_88413"), b.ProvidedVisitorID("cust_88413"), c.ProvidedVisitorID("cust_88413")
	if va != vb {
		t.Fatalf("same key, different ids: %s %s", va, vb)
	}
	if va == vc {
		t.Fatal("different keys derive the same id")
	}
	if !strings.HasPrefix(va, "v_") || len(va) != 28 {
		t.Fatalf("visitor id %q", va)
	}
	if a.ProvidedVisitorID("cust_88414") == va {
		t.Fatal("two provided ids share a visitor id")
	}
	// The provided id and the channel-user namespace never collide.
	if va == Derive("cust_88413") {
		t.Fatal("provided id derivation equals the unkeyed one")
	}
}

// TestPerInstallKeyIsKept: with no configured key, the first resolver
// makes one and every later resolver over the same store uses it.
func TestPerInstallKeyIsKept(t *testing.T) {
	s := newMapStore()
	a := newResolver(t, s, "")
	b := newResolver(t, s, "")
	if a.ProvidedVisitorID("x") != b.ProvidedVisitorID("x") {
		t.Fatal("per-install key not shared through the store")
	}
	if k, _ := s.Get(BucketMeta, "key"); len(k) != 32 {
		t.Fatalf("stored key has %d bytes", len(k))
	}
	other := newResolver(t, newMapStore(), "")
	if other.ProvidedVisitorID("x") == a.ProvidedVisitorID("x") {
		t.Fatal("two installs derived the same id: the key is not random")
	}
}

// TestResolve checks the store wins over derivation, new users are
// reported as new, and Remember/Forget drive the cache.
func TestResolve(t *testing.T) {
	st := newMapStore()
	st.Put(store.BucketIdentity, "known", []byte("v_linked"))
	r := newResolver(t, st, "k")
	v, isNew, err := r.Resolve("known")
	if err != nil || v != "v_linked" || isNew {
		t.Fatalf("known: %q %v %v", v, isNew, err)
	}
	v, isNew, err = r.Resolve("fresh")
	if err != nil || v != Derive("fresh") || !isNew {
		t.Fatalf("fresh: %q %v %v", v, isNew, err)
	}
	r.Remember("fresh", "v_cached")
	r.users.Wait()
	if v, isNew, _ = r.Resolve("fresh"); v != "v_cached" || isNew {
		t.Fatalf("after Remember: %q %v", v, isNew)
	}
	r.Forget("fresh")
	r.users.Wait()
	if v, isNew, _ = r.Resolve("fresh"); v != Derive("fresh") || !isNew {
		t.Fatalf("after Forget: %q %v", v, isNew)
	}
}

// TestLookupsAreCachedAndInvalidatedOnLink: a second lookup is served by
// the cache (no store read); a link changes the store and the next lookup
// sees the new visitor at once.
func TestLookupsAreCachedAndInvalidatedOnLink(t *testing.T) {
	st := newMapStore()
	r := newResolver(t, st, "identity-key-for-tests")
	key := ChannelUserKey("messenger", "p/c/psid1")
	first := Derive(key)
	if err := r.Bind(key, first); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := r.Lookup(key); !ok || v != first {
		t.Fatalf("lookup after bind: %q %v", v, ok)
	}
	r.users.Wait()
	before := st.readCount()
	if v, _, _ := r.Lookup(key); v != first {
		t.Fatalf("cached lookup: %q", v)
	}
	if st.readCount() != before {
		t.Fatal("a cached lookup read the store")
	}
	prof, _ := r.Profile(first)
	r.profiles.Wait()
	if prof.ProvidedID != "" {
		t.Fatalf("fresh visitor has provided id %q", prof.ProvidedID)
	}
	linked, err := r.Link(key, "cust_1")
	if err != nil {
		t.Fatal(err)
	}
	if linked != r.ProvidedVisitorID("cust_1") {
		t.Fatalf("linked to %s, want the provided id's visitor", linked)
	}
	// No Wait: invalidation must be visible to the very next lookup.
	if v, _, _ := r.Lookup(key); v != linked {
		t.Fatalf("lookup after link: %q, want %q (stale cache)", v, linked)
	}
	if p, _ := r.Profile(linked); p.ProvidedID != "cust_1" {
		t.Fatalf("profile after link: %+v", p)
	}
}

// TestLinkRefusesASecondProvidedID: a channel user whose person already
// has provided id A cannot be linked to B; linking to A again is a no-op.
func TestLinkRefusesASecondProvidedID(t *testing.T) {
	r := newResolver(t, newMapStore(), "identity-key-for-tests")
	key := ChannelUserKey("messenger", "p/c/psid1")
	a, err := r.Link(key, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Link(key, "bob"); !errors.Is(err, ErrConflict) {
		t.Fatalf("link to a second provided id: %v, want ErrConflict", err)
	}
	if v, _, _ := r.Lookup(key); v != a {
		t.Fatalf("refused link changed the binding to %s", v)
	}
	if again, err := r.Link(key, "alice"); err != nil || again != a {
		t.Fatalf("relink: %s %v", again, err)
	}
	// Merging two identified visitors is refused too.
	b, _ := r.BindProvided("bob")
	if err := r.Merge(a, b); !errors.Is(err, ErrConflict) {
		t.Fatalf("merge of two provided ids: %v", err)
	}
	// Bob's person never learnt of alice's channel user.
	if p, err := r.Person(b); err != nil || len(p.ResponsePaths) != 0 || p.ProvidedID != "bob" {
		t.Fatalf("bob: %+v %v", p, err)
	}
}

// TestPersonListsEveryPathAndAttributes: a person linked on two channels
// is found by visitor id, provided id or either response path, and lists
// both paths; a re-bound channel user disappears from its old person.
func TestPersonListsEveryPathAndAttributes(t *testing.T) {
	r := newResolver(t, newMapStore(), "identity-key-for-tests")
	fb := ChannelUserKey("messenger", "page/c/psid1")
	tg := ChannelUserKey("telegram", "bot/c/42")
	old := Derive(fb)
	if err := r.Bind(fb, old); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAttributes(old, json.RawMessage(`{"lang":"fr","plan":"free"}`), false); err != nil {
		t.Fatal(err)
	}
	v1, err := r.Link(fb, "cust_9")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetAttributes(v1, json.RawMessage(`{"plan":"pro"}`), true); err != nil {
		t.Fatal(err)
	}
	v2, err := r.Link(tg, "cust_9")
	if err != nil || v2 != v1 {
		t.Fatalf("second link: %s %v", v2, err)
	}
	want := &Person{VisitorID: v1, ProvidedID: "cust_9", ResponsePaths: []string{"page/c/psid1", "bot/c/42"}}
	for name, find := range map[string]func() (*Person, error){
		"visitor":  func() (*Person, error) { return r.Person(v1) },
		"provided": func() (*Person, error) { return r.FindProvided("cust_9") },
		"fb":       func() (*Person, error) { return r.FindUser(fb) },
		"tg":       func() (*Person, error) { return r.FindUser(tg) },
	} {
		p, err := find()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var attrs map[string]string
		json.Unmarshal(p.Attributes, &attrs)
		p.Attributes = nil
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		// The merged visitor's attributes came along; the signed value won.
		if attrs["lang"] != "fr" || attrs["plan"] != "pro" {
			t.Errorf("%s: attributes %v", name, attrs)
		}
	}
	// An unsigned update cannot change a signed attribute.
	r.SetAttributes(v1, json.RawMessage(`{"plan":"free","color":"red"}`), false)
	p, _ := r.Person(v1)
	var attrs map[string]string
	json.Unmarshal(p.Attributes, &attrs)
	if attrs["plan"] != "pro" || attrs["color"] != "red" {
		t.Errorf("after unsigned update: %v", attrs)
	}
	// The old visitor no longer lists the re-bound channel user.
	if p, err := r.Person(old); err != nil || len(p.ResponsePaths) != 0 {
		t.Errorf("old visitor: %+v %v", p, err)
	}
	for _, miss := range []func() (*Person, error){
		func() (*Person, error) { return r.Person("v_nobody") },
		func() (*Person, error) { return r.FindProvided("nobody") },
		func() (*Person, error) { return r.FindUser(ChannelUserKey("viber", "x/c/y")) },
		func() (*Person, error) { return r.Person("") },
	} {
		if _, err := miss(); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown: %v, want ErrNotFound", err)
		}
	}
	if err := r.SetAttributes(v1, json.RawMessage(`[1]`), false); !errors.Is(err, ErrNotObject) {
		t.Errorf("array attributes: %v", err)
	}
}

// TestMergeIsOnce: merging the same visitor twice records it once and
// keeps the identified values.
func TestMergeIsOnce(t *testing.T) {
	r := newResolver(t, newMapStore(), "identity-key-for-tests")
	into, _ := r.BindProvided("ana")
	r.SetAttributes("wv_anon", json.RawMessage(`{"a":1,"b":1}`), false)
	r.SetAttributes(into, json.RawMessage(`{"b":2}`), false)
	for range 2 {
		if err := r.Merge("wv_anon", into); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := r.Profile(into)
	if diff := cmp.Diff([]string{"wv_anon"}, p.MergedFrom); diff != "" {
		t.Error(diff)
	}
	if string(p.Attributes) != `{"a":1,"b":2}` {
		t.Errorf("attributes %s", p.Attributes)
	}
}

// TestNewUserSets: the writes the pipeline spools for a new channel user
// make it resolvable and listed.
func TestNewUserSets(t *testing.T) {
	st := newMapStore()
	r := newResolver(t, st, "identity-key-for-tests")
	key := ChannelUserKey("viber", "b/c/a+b/c=")
	vid, isNew, _ := r.Resolve(key)
	if !isNew {
		t.Fatal("not new")
	}
	for _, kv := range NewUserSets(nil, key, vid) {
		st.Put(kv.Bucket, kv.Key, kv.Value)
	}
	p, err := r.FindUser(key)
	if err != nil || p.VisitorID != vid || len(p.ResponsePaths) != 1 || p.ResponsePaths[0] != "b/c/a+b/c=" {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestNewVisitorID(t *testing.T) {
	a, b := NewVisitorID("wv_"), NewVisitorID("wv_")
	if a == b || len(a) != 3+26 || !strings.HasPrefix(a, "wv_") {
		t.Fatalf("%q %q", a, b)
	}
}

func BenchmarkResolveCached(b *testing.B) {
	r := newResolver(b, newMapStore(), "k")
	r.Remember("k", "v_x")
	r.users.Wait()
	b.ReportAllocs()
	for b.Loop() {
		r.Resolve("k")
	}
}

func BenchmarkProfileCached(b *testing.B) {
	r := newResolver(b, newMapStore(), "k")
	r.Profile("v_x")
	r.profiles.Wait()
	b.ReportAllocs()
	for b.Loop() {
		r.Profile("v_x")
	}
}
