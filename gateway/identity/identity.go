// Package identity resolves who a person is (DESIGN §6). Issue-level scope
// today: every channel user (channel + response path) maps to a stable
// visitor id, looked up through a ristretto cache in front of the store.
//
// The visitor id of a channel user is derived deterministically from the
// user's key on first contact, so two instances seeing the same new user
// at once derive the same id without coordination; the store records it
// so that a later link to a provided id can re-bind it.
package identity

import (
	"crypto/sha256"
	"encoding/base32"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

// Getter is the part of the store identity reads.
type Getter interface {
	Get(bucket, key string) ([]byte, error)
}

// Resolver maps channel users to visitor ids. Create it with New.
type Resolver struct {
	store Getter
	cache *ristretto.Cache[string, string]
}

// New returns a resolver caching up to items entries in front of s.
func New(s Getter, items int64) (*Resolver, error) {
	if items < 100 {
		items = 100
	}
	c, err := ristretto.NewCache(&ristretto.Config[string, string]{
		NumCounters:        items * 10,
		MaxCost:            items,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return &Resolver{store: s, cache: c}, nil
}

// Close releases the cache.
func (r *Resolver) Close() { r.cache.Close() }

// ChannelUserKey is the identity key of a channel user.
func ChannelUserKey(channel, responsePath string) string {
	return "c:" + channel + ":" + responsePath
}

// Resolve returns the visitor id for key. When the store has none yet it
// returns the derived id and isNew, and the caller records it durably in
// the same transaction as the event that introduced the person (store.KV
// in the spooled item); Remember then warms the cache.
func (r *Resolver) Resolve(key string) (visitorID string, isNew bool, err error) {
	if v, ok := r.cache.Get(key); ok {
		return v, false, nil
	}
	b, err := r.store.Get(store.BucketIdentity, key)
	if err != nil {
		return "", false, err
	}
	if b != nil {
		v := string(b)
		r.cache.Set(key, v, 1)
		return v, false, nil
	}
	return Derive(key), true, nil
}

// Remember caches key → visitorID once it is durable.
func (r *Resolver) Remember(key, visitorID string) { r.cache.Set(key, visitorID, 1) }

// Forget drops key from the cache after the store's mapping changed.
func (r *Resolver) Forget(key string) { r.cache.Del(key) }

// b32 is lowercase base32 without padding: ids stay readable and URL-safe.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Derive is the deterministic visitor id of key: "v_" and 26 base32
// characters (130 bits) of its SHA-256.
func Derive(key string) string {
	sum := sha256.Sum256([]byte("switchboard/visitor\x00" + key))
	return "v_" + b32.EncodeToString(sum[:])[:26]
}
