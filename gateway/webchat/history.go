package webchat

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/gateway/store"
)

// Buckets of the web channel.
const (
	// BucketMessages holds every conversation's frames: key
	// conversation+"\x00"+16 hex digits of seq, value the frame JSON.
	BucketMessages = "web_messages"
	// BucketHead holds a hint of each conversation's last seq.
	BucketHead = "web_head"
	// BucketMerged maps an anonymous conversation merged at identify to
	// the identified conversation it went into; replies still addressed
	// to the anonymous one follow it.
	BucketMerged = "web_merged"
	// BucketSessions maps hex(SHA-256(token)) to the session JSON.
	BucketSessions = "web_sessions"
)

// HeadHintEvery is how often (in seqs) the head hint is written; finding
// the head probes at most this many records past the hint.
const HeadHintEvery = 16

// MaxMerge bounds the frames copied from an anonymous conversation when
// its visitor identifies (the most recent ones are kept).
const MaxMerge = 1000

// convKey names a conversation: its connection and response path.

func msgKey(conv string, seq uint64) string { return conv + "\x00" + fmt.Sprintf("%016x", seq) }

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// frameID is a frame's id, unique across conversations: "wm_", 16 base32
// characters (80 bits) of the conversation's hash, "_" and the seq.
func frameID(conv string, seq uint64) string {
	sum := sha256.Sum256([]byte(conv))
	return "wm_" + b32.EncodeToString(sum[:10]) + "_" + strconv.FormatUint(seq, 10)
}

// head returns the last seq of conv (0 when empty). It starts from the
// head this instance last saw, else from the stored hint (written every
// HeadHintEvery seqs), and probes forward for items other writers added.
// A remembered head is never past the real one: items are never deleted.
func (s *Service) head(conv string) (uint64, error) {
	h, known := s.heads.Get(conv)
	if !known {
		b, err := s.Store.Get(BucketHead, conv)
		if err != nil {
			return 0, err
		}
		if b != nil {
			h, _ = strconv.ParseUint(string(b), 10, 64)
		}
	}
	for {
		b, err := s.Store.Get(BucketMessages, msgKey(conv, h+1))
		if err != nil {
			return 0, err
		}
		if b == nil {
			s.heads.Set(conv, h, 1)
			return h, nil
		}
		h++
	}
}

// appendFrame stores f as the conversation's next item, setting its Seq
// and ID, and returns its JSON. Seqs are claimed with PutIfAbsent, so
// they stay gap-free and unique even with writers on other instances; the
// stripe lock only spares this instance's writers the collisions.
func (s *Service) appendFrame(conv string, f *web.Frame) ([]byte, error) {
	return s.appendFrameWith(conv, f, s.putIfAbsent)
}

// putIfAbsent writes the claim kv on its own.
func (s *Service) putIfAbsent(kv store.KV) error {
	got, err := s.Store.PutIfAbsent(kv.Bucket, kv.Key, kv.Value)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, kv.Value) {
		return store.ErrTaken
	}
	return nil
}

// appendFrameWith is appendFrame writing each try through claim: kv is
// the frame under its seq, a store.KV.IfAbsent claim; claim returns
// store.ErrTaken when another writer has the seq (the next is tried) and
// may write more with it in the same transaction (the visitor's message
// goes into the spool with its frame). f's Seq and ID are set when claim
// is called.
func (s *Service) appendFrameWith(conv string, f *web.Frame, claim func(kv store.KV) error) ([]byte, error) {
	mu := s.stripe(conv)
	mu.Lock()
	defer mu.Unlock()
	h, err := s.head(conv)
	if err != nil {
		return nil, err
	}
	for seq := h + 1; ; seq++ {
		f.Seq, f.ID = seq, frameID(conv, seq)
		data, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		err = claim(store.KV{Bucket: BucketMessages, Key: msgKey(conv, seq), Value: data, IfAbsent: true})
		if errors.Is(err, store.ErrTaken) {
			continue // another instance took seq
		}
		if err != nil {
			return nil, err
		}
		s.heads.Set(conv, seq, 1)
		if seq%HeadHintEvery == 0 {
			if err := s.Store.Put(BucketHead, conv, []byte(strconv.FormatUint(seq, 10))); err != nil {
				s.Log.Warn("webchat: head hint not written", "err", err)
			}
		}
		return data, nil
	}
}

// frame returns the stored frame seq of conv, or nil.
func (s *Service) frame(conv string, seq uint64) ([]byte, error) {
	return s.Store.Get(BucketMessages, msgKey(conv, seq))
}

// after returns up to max frames after seq, in order.
func (s *Service) after(conv string, seq uint64, max int) ([][]byte, error) {
	var out [][]byte
	for len(out) < max {
		b, err := s.frame(conv, seq+uint64(len(out))+1)
		if err != nil {
			return out, err
		}
		if b == nil {
			break
		}
		out = append(out, b)
	}
	return out, nil
}

// page returns up to limit frames before seq before (0: from the head),
// newest first, and the cursor of the next page (0 when there is none).
func (s *Service) page(conv string, before uint64, limit int) ([]json.RawMessage, uint64, error) {
	h, err := s.head(conv)
	if err != nil {
		return nil, 0, err
	}
	if before == 0 || before > h+1 {
		before = h + 1 // a cursor past the head reads from the head
	}
	out := []json.RawMessage{}
	seq := before
	for seq > 1 && len(out) < limit {
		seq--
		b, err := s.frame(conv, seq)
		if err != nil {
			return nil, 0, err
		}
		if b != nil {
			out = append(out, b)
		}
	}
	if seq <= 1 {
		seq = 0
	}
	return out, seq, nil
}

// follow returns the conversation conv was merged into, or conv.
func (s *Service) follow(conv string) (string, error) {
	b, err := s.Store.Get(BucketMerged, conv)
	if err != nil || b == nil {
		return conv, err
	}
	return string(b), nil
}

// merge copies anonymous conversation from into conversation into, once:
// the frames keep their times and carry merged_from, and get new seqs
// after into's own. It records the merge first, so replies addressed to
// from while it copies already follow into into, then copies until from's
// head stops moving. It returns how many frames it copied.
func (s *Service) merge(from, into, anonVisitor string) (int, error) {
	if from == into {
		return 0, nil
	}
	mu := &s.merges[fnv(from)%uint32(len(s.merges))]
	mu.Lock()
	defer mu.Unlock()
	if done, err := s.Store.Get(BucketMerged, from); err != nil || done != nil {
		return 0, err
	}
	if err := s.Store.Put(BucketMerged, from, []byte(into)); err != nil {
		return 0, err
	}
	h, err := s.head(from)
	if err != nil {
		return 0, err
	}
	next := uint64(1)
	if h > MaxMerge {
		next = h - MaxMerge + 1
	}
	n := 0
	defer func() {
		if n > 0 {
			s.hub.notify(into, nil)
		}
	}()
	for {
		for ; next <= h; next++ {
			b, err := s.frame(from, next)
			if err != nil {
				return n, err
			}
			var f web.Frame
			if b == nil || json.Unmarshal(b, &f) != nil {
				continue
			}
			if f.MergedFrom == "" {
				f.MergedFrom = anonVisitor
			}
			if _, err := s.appendFrame(into, &f); err != nil {
				return n, err
			}
			n++
		}
		if h, err = s.head(from); err != nil || h < next {
			return n, err
		}
	}
}
