// Package identity resolves who a person is (DESIGN §6). Three ids, after
// the Rox.Chat model:
//
//   - visitor_id: Switchboard's own stable id of a person;
//   - provided_id: the customer's user id, from their login system;
//   - per channel, the channel user, keyed by ChannelUserKey(channel,
//     response path).
//
// A channel user maps to a visitor id on first contact: Derive of its key,
// recorded in the store by the pipeline in the same transaction as the
// event that introduced the person. A provided id maps to the visitor id
// ProvidedVisitorID computes with the identity key, so every instance that
// shares the key derives the same one without coordination; the store
// records the first binding (PutIfAbsent) and that record wins afterwards.
// Link re-binds a channel user to a provided id's visitor; a visitor never
// gets a second, different provided id (ErrConflict).
//
// Lookups go through ristretto caches in front of the store. Every write
// goes to the store first and then invalidates the cache; a generation
// counter keeps a lookup that raced with a write from caching the value it
// read before the write (see cacheSet). That is exact on one instance; with
// a shared store each instance must also drop the keys another instance
// changed (README, "Identity").
package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

// Buckets of the identity model. store.BucketIdentity holds channel user →
// visitor id; these hold the rest.
const (
	// BucketProvided maps a provided id to its visitor id.
	BucketProvided = "identity_provided"
	// BucketVisitor maps a visitor id to its Profile (JSON).
	BucketVisitor = "identity_visitor"
	// BucketPaths is each visitor's append-only log of channel-user keys:
	// key visitor+"\x00"+index (six digits), value the channel-user key.
	// Entries whose channel user was re-bound elsewhere are skipped on
	// read, so the log never needs rewriting.
	BucketPaths = "identity_paths"
	// BucketMeta holds the per-install identity key when none is
	// configured.
	BucketMeta = "identity_meta"
)

// Errors.
var (
	// ErrConflict refuses to give a person a second, different provided id.
	ErrConflict = errors.New("identity: the person already has a different provided id")
	// ErrNotFound is a lookup that matched no one.
	ErrNotFound = errors.New("identity: no such person")
	// ErrBadID is an empty or oversized id.
	ErrBadID = errors.New("identity: invalid id")
)

// MaxIDLen bounds provided ids and keys (bytes).
const MaxIDLen = 512

// Store is the part of the store identity uses.
type Store interface {
	Get(bucket, key string) ([]byte, error)
	Put(bucket, key string, value []byte) error
	PutIfAbsent(bucket, key string, value []byte) ([]byte, error)
}

// Options tune a Resolver.
type Options struct {
	// CacheItems bounds each cache (channel users, profiles).
	CacheItems int64
	// Key keys ProvidedVisitorID. Empty: a random per-install key is made
	// once and kept in BucketMeta.
	Key []byte
}

// Profile is what the store knows about a visitor besides its channel
// users. Values handed out are shared with the cache: never modify one.
type Profile struct {
	ProvidedID string          `json:"provided_id,omitempty"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	// Signed names the attributes that came with a verified proof (a
	// JWT's traits); unsigned updates never change them.
	Signed []string `json:"signed,omitempty"`
	// MergedFrom lists the visitors whose attributes (and, on the web,
	// conversation) were merged into this one.
	MergedFrom []string `json:"merged_from,omitempty"`
}

func (p *Profile) empty() bool {
	return p.ProvidedID == "" && len(p.Attributes) == 0 && len(p.MergedFrom) == 0
}

// Person is the answer of GET /v1/identities.
type Person struct {
	VisitorID     string          `json:"visitor_id"`
	ProvidedID    string          `json:"provided_id,omitempty"`
	ResponsePaths []string        `json:"response_paths"`
	Attributes    json.RawMessage `json:"attributes,omitempty"`
}

// Resolver maps channel users and provided ids to visitor ids. Create it
// with New; it is safe for concurrent use.
type Resolver struct {
	store    Store
	key      []byte
	users    *ristretto.Cache[string, string]
	profiles *ristretto.Cache[string, *Profile]
	gen      atomic.Uint64
	locks    [64]sync.Mutex // read-modify-write of one visitor, striped
}

// New returns a resolver over s.
func New(s Store, opts Options) (*Resolver, error) {
	items := max(opts.CacheItems, 100)
	r := &Resolver{store: s, key: opts.Key}
	var err error
	if r.users, err = newCache[string](items); err != nil {
		return nil, err
	}
	if r.profiles, err = newCache[*Profile](items); err != nil {
		r.users.Close()
		return nil, err
	}
	if len(r.key) == 0 {
		if r.key, err = installKey(s); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func newCache[V any](items int64) (*ristretto.Cache[string, V], error) {
	return ristretto.NewCache(&ristretto.Config[string, V]{
		NumCounters:        items * 10,
		MaxCost:            items,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
}

// installKey returns the per-install identity key, making it on first use.
// PutIfAbsent makes instances that share a store agree on it.
func installKey(s Store) ([]byte, error) {
	k, err := s.Get(BucketMeta, "key")
	if err != nil || len(k) > 0 {
		return k, err
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	k, err = s.PutIfAbsent(BucketMeta, "key", fresh)
	if err != nil {
		return nil, fmt.Errorf("identity: keeping the per-install key: %w", err)
	}
	return k, nil
}

// Close releases the caches.
func (r *Resolver) Close() {
	r.users.Close()
	r.profiles.Close()
}

// ChannelUserKey is the identity key of a channel user.
func ChannelUserKey(channel, responsePath string) string {
	return "c:" + channel + ":" + responsePath
}

// AppendChannelUserKey appends ChannelUserKey(channel, responsePath) to
// dst: with a view of it, a lookup of a known person allocates no key.
func AppendChannelUserKey(dst []byte, channel, responsePath string) []byte {
	dst = append(dst, "c:"...)
	dst = append(dst, channel...)
	dst = append(dst, ':')
	return append(dst, responsePath...)
}

// SplitChannelUserKey returns the channel and response path of a key made
// by ChannelUserKey.
func SplitChannelUserKey(key string) (channel, responsePath string, ok bool) {
	rest, ok := strings.CutPrefix(key, "c:")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// b32 is lowercase base32 without padding: ids stay readable and URL-safe.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Derive is the deterministic visitor id of a channel-user key: "v_" and
// 26 base32 characters (130 bits) of its SHA-256. It is unkeyed (ids made
// before the identity key existed stay valid); channel-user keys are not
// secret.
func Derive(key string) string {
	sum := sha256.Sum256([]byte("switchboard/visitor\x00" + key))
	return "v_" + b32.EncodeToString(sum[:])[:26]
}

// ProvidedVisitorID is the deterministic visitor id of a provided id:
// "v_" + base32(HMAC-SHA256(identity key, "provided\x00" + id))[:26]. It is
// keyed so that knowing a customer's user id does not tell anyone the
// visitor id (nor the reverse).
func (r *Resolver) ProvidedVisitorID(providedID string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte("provided\x00"))
	m.Write([]byte(providedID))
	return "v_" + b32.EncodeToString(m.Sum(nil))[:26]
}

// NewVisitorID mints a random visitor id: prefix and 26 base32 characters
// of 128 random bits. The web channel mints its anonymous visitors so.
func NewVisitorID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + b32.EncodeToString(b[:])
}

func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return ErrBadID
	}
	return nil
}

// --- channel users ---

// Resolve returns the visitor id for key. When the store has none yet it
// returns the derived id and isNew, and the caller records it durably in
// the same transaction as the event that introduced the person (the
// NewUserSets in the spooled item); Remember then warms the cache.
// Resolve and Lookup keep nothing of key past the call (the cache keeps
// its hash), so it may be a view of a buffer the caller reuses.
func (r *Resolver) Resolve(key string) (visitorID string, isNew bool, err error) {
	v, ok, err := r.Lookup(key)
	if err != nil || ok {
		return v, false, err
	}
	return Derive(key), true, nil
}

// Lookup returns the visitor id recorded for key, without deriving one.
func (r *Resolver) Lookup(key string) (visitorID string, ok bool, err error) {
	if v, ok := r.users.Get(key); ok {
		return v, true, nil
	}
	g := r.gen.Load()
	b, err := r.store.Get(store.BucketIdentity, key)
	if err != nil || b == nil {
		return "", false, err
	}
	v := string(b)
	cacheSet(r, r.users, g, key, v)
	return v, true, nil
}

// cacheSet caches v unless a write invalidated the cache since the
// generation g read before the store. The check comes after the Set: a
// write that bumps the generation first and deletes second either is seen
// here (and we delete) or deletes after our Set (ristretto applies a Set
// and a later Del in order).
func cacheSet[V any](r *Resolver, c *ristretto.Cache[string, V], g uint64, key string, v V) {
	c.Set(key, v, 1)
	if r.gen.Load() != g {
		c.Del(key)
	}
}

// invalidate drops keys from the caches after the store changed.
func (r *Resolver) invalidate(userKeys []string, visitors []string) {
	r.gen.Add(1)
	for _, k := range userKeys {
		r.users.Del(k)
	}
	for _, v := range visitors {
		r.profiles.Del(v)
	}
	// ristretto applies Sets asynchronously: a Set still buffered from
	// before the change would land after Del's immediate removal and
	// serve the old value until its queued delete runs. Flushing makes
	// the next lookup see the store. Invalidations are rare (links,
	// merges, binds); lookups never wait.
	r.users.Wait()
	r.profiles.Wait()
}

// Remember caches key → visitorID once it is durable.
func (r *Resolver) Remember(key, visitorID string) { r.users.Set(key, visitorID, 1) }

// Forget drops key from the cache after the store's mapping changed.
func (r *Resolver) Forget(key string) { r.invalidate([]string{key}, nil) }

// NewUserSets are the store writes that record a channel user seen for
// the first time (Resolve said isNew), to spool in the same transaction as
// its first event: key → visitor, and the visitor's first path-log entry
// (a derived visitor is new, so index 0 is its own).
func NewUserSets(dst []store.KV, key, visitorID string) []store.KV {
	return append(dst,
		store.KV{Bucket: store.BucketIdentity, Key: key, Value: []byte(visitorID)},
		store.KV{Bucket: BucketPaths, Key: pathKey(visitorID, 0), Value: []byte(key)})
}

// Bind records that channel user key is visitorID (a web session, a link)
// and adds key to the visitor's paths.
func (r *Resolver) Bind(key, visitorID string) error {
	if err := checkID(key); err != nil {
		return err
	}
	if err := r.store.Put(store.BucketIdentity, key, []byte(visitorID)); err != nil {
		return err
	}
	r.invalidate([]string{key}, nil)
	return r.addPath(visitorID, key)
}

func pathKey(visitorID string, i int) string { return fmt.Sprintf("%s\x00%06d", visitorID, i) }

// maxPaths bounds a visitor's path log as read.
const maxPaths = 1000

// addPath appends key to the visitor's path log unless present. Slots are
// claimed with PutIfAbsent, so concurrent appenders (other instances
// included) never overwrite each other; a duplicate from a race is
// dropped on read.
func (r *Resolver) addPath(visitorID, key string) error {
	for i := 0; i < maxPaths; i++ {
		got, err := r.store.PutIfAbsent(BucketPaths, pathKey(visitorID, i), []byte(key))
		if err != nil {
			return err
		}
		if string(got) == key {
			return nil
		}
	}
	return fmt.Errorf("identity: visitor %s has more than %d channel users", visitorID, maxPaths)
}

// Paths returns the channel-user keys currently bound to visitorID.
func (r *Resolver) Paths(visitorID string) ([]string, error) {
	var out []string
	for i := 0; i < maxPaths; i++ {
		k, err := r.store.Get(BucketPaths, pathKey(visitorID, i))
		if err != nil {
			return nil, err
		}
		if k == nil {
			break
		}
		key := string(k)
		if slices.Contains(out, key) {
			continue
		}
		if v, ok, err := r.Lookup(key); err != nil {
			return nil, err
		} else if ok && v == visitorID {
			out = append(out, key)
		}
	}
	return out, nil
}

// --- profiles ---

// Profile returns what is known about visitorID; an unknown visitor has
// an empty Profile. The value is shared: never modify it.
func (r *Resolver) Profile(visitorID string) (*Profile, error) {
	if p, ok := r.profiles.Get(visitorID); ok {
		return p, nil
	}
	g := r.gen.Load()
	p, err := r.loadProfile(visitorID)
	if err != nil {
		return nil, err
	}
	cacheSet(r, r.profiles, g, visitorID, p)
	return p, nil
}

func (r *Resolver) loadProfile(visitorID string) (*Profile, error) {
	b, err := r.store.Get(BucketVisitor, visitorID)
	if err != nil {
		return nil, err
	}
	p := new(Profile)
	if b != nil {
		if err := json.Unmarshal(b, p); err != nil {
			return nil, fmt.Errorf("identity: profile of %s: %w", visitorID, err)
		}
	}
	return p, nil
}

func (r *Resolver) lock(visitorID string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(visitorID))
	return &r.locks[h.Sum32()%uint32(len(r.locks))]
}

// update applies fn to visitorID's profile under its lock and stores the
// result. On one instance the lock makes it atomic; on a shared store it
// is last-writer-wins (README, "Identity").
func (r *Resolver) update(visitorID string, fn func(p *Profile) error) error {
	mu := r.lock(visitorID)
	mu.Lock()
	defer mu.Unlock()
	p, err := r.loadProfile(visitorID)
	if err != nil {
		return err
	}
	if err := fn(p); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := r.store.Put(BucketVisitor, visitorID, b); err != nil {
		return err
	}
	r.invalidate(nil, []string{visitorID})
	return nil
}

// SetAttributes merges attrs (a JSON object) into visitorID's attributes,
// key by key. Signed attributes come with a verified proof: they win and
// are remembered as signed; unsigned ones never change a signed one.
func (r *Resolver) SetAttributes(visitorID string, attrs json.RawMessage, signed bool) error {
	in, err := objectOf(attrs)
	if err != nil || len(in) == 0 {
		return err
	}
	return r.update(visitorID, func(p *Profile) error {
		cur, err := objectOf(p.Attributes)
		if err != nil {
			cur = map[string]json.RawMessage{}
		}
		for k, v := range in {
			if !signed && slices.Contains(p.Signed, k) {
				continue
			}
			cur[k] = v
			if signed && !slices.Contains(p.Signed, k) {
				p.Signed = append(p.Signed, k)
			}
		}
		p.Attributes, err = json.Marshal(cur)
		return err
	})
}

// ErrNotObject is attributes that are not a JSON object.
var ErrNotObject = errors.New("identity: attributes must be a JSON object")

func objectOf(b json.RawMessage) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, ErrNotObject
	}
	return m, nil
}

// --- provided ids ---

// BindProvided returns the visitor id of providedID, recording the
// binding (provided id → visitor, visitor → provided id) on first use.
func (r *Resolver) BindProvided(providedID string) (string, error) {
	if err := checkID(providedID); err != nil {
		return "", err
	}
	got, err := r.store.Get(BucketProvided, providedID)
	if err == nil && got == nil {
		got, err = r.store.PutIfAbsent(BucketProvided, providedID, []byte(r.ProvidedVisitorID(providedID)))
	}
	if err != nil {
		return "", err
	}
	vid := string(got)
	p, err := r.Profile(vid)
	if err != nil {
		return "", err
	}
	if p.ProvidedID == providedID {
		return vid, nil
	}
	err = r.update(vid, func(p *Profile) error {
		if p.ProvidedID != "" && p.ProvidedID != providedID {
			return ErrConflict
		}
		p.ProvidedID = providedID
		return nil
	})
	return vid, err
}

// ProvidedOf returns the visitor id recorded for providedID, if any.
func (r *Resolver) ProvidedOf(providedID string) (string, bool, error) {
	if checkID(providedID) != nil {
		return "", false, nil
	}
	b, err := r.store.Get(BucketProvided, providedID)
	if err != nil || b == nil {
		return "", false, err
	}
	return string(b), true, nil
}

// Merge folds visitor from's attributes into visitor into (into's values
// win on conflicts) and records from in into's MergedFrom, once. It
// refuses (ErrConflict) when both carry different provided ids: two
// provided ids are never merged.
func (r *Resolver) Merge(from, into string) error {
	if from == into {
		return nil
	}
	src, err := r.Profile(from)
	if err != nil {
		return err
	}
	return r.update(into, func(p *Profile) error {
		if src.ProvidedID != "" && p.ProvidedID != "" && src.ProvidedID != p.ProvidedID {
			return ErrConflict
		}
		if slices.Contains(p.MergedFrom, from) {
			return nil
		}
		p.MergedFrom = append(p.MergedFrom, from)
		theirs, err := objectOf(src.Attributes)
		if err != nil || len(theirs) == 0 {
			return nil
		}
		ours, err := objectOf(p.Attributes)
		if err != nil {
			ours = map[string]json.RawMessage{}
		}
		for k, v := range theirs {
			if _, ok := ours[k]; !ok {
				ours[k] = v
			}
		}
		p.Attributes, err = json.Marshal(ours)
		return err
	})
}

// Link binds channel user key to providedID's visitor (POST
// /v1/identities/link): the channel user's current visitor is merged into
// it. It refuses with ErrConflict when that visitor already has a
// different provided id. Linking again is a no-op.
func (r *Resolver) Link(key, providedID string) (string, error) {
	if err := checkID(key); err != nil {
		return "", err
	}
	if err := checkID(providedID); err != nil {
		return "", err
	}
	cur, _, err := r.Resolve(key)
	if err != nil {
		return "", err
	}
	p, err := r.Profile(cur)
	if err != nil {
		return "", err
	}
	if p.ProvidedID != "" && p.ProvidedID != providedID {
		return "", ErrConflict
	}
	target, err := r.BindProvided(providedID)
	if err != nil {
		return "", err
	}
	if cur == target {
		return target, nil
	}
	if err := r.Merge(cur, target); err != nil {
		return "", err
	}
	return target, r.Bind(key, target)
}

// --- lookups ---

// Person assembles what is known about visitorID: its provided id, its
// channel users' response paths and its attributes. ErrNotFound when the
// store knows nothing of it.
func (r *Resolver) Person(visitorID string) (*Person, error) {
	if checkID(visitorID) != nil {
		return nil, ErrNotFound
	}
	p, err := r.Profile(visitorID)
	if err != nil {
		return nil, err
	}
	keys, err := r.Paths(visitorID)
	if err != nil {
		return nil, err
	}
	if p.empty() && len(keys) == 0 {
		return nil, ErrNotFound
	}
	out := &Person{VisitorID: visitorID, ProvidedID: p.ProvidedID, ResponsePaths: []string{}, Attributes: p.Attributes}
	for _, k := range keys {
		if _, path, ok := SplitChannelUserKey(k); ok {
			out.ResponsePaths = append(out.ResponsePaths, path)
		}
	}
	return out, nil
}

// FindProvided is Person by provided id.
func (r *Resolver) FindProvided(providedID string) (*Person, error) {
	vid, ok, err := r.ProvidedOf(providedID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return r.Person(vid)
}

// FindUser is Person by channel-user key.
func (r *Resolver) FindUser(key string) (*Person, error) {
	if checkID(key) != nil {
		return nil, ErrNotFound
	}
	vid, ok, err := r.Lookup(key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return r.Person(vid)
}
