package bolt

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

func reportCommits(b *testing.B, s *Store, before Stats) {
	st := s.Stats()
	commits := st.Commits - before.Commits
	if commits == 0 {
		return
	}
	b.ReportMetric(float64(commits)/float64(b.N), "commits/op")
	b.ReportMetric(float64(st.Requests-before.Requests)/float64(commits), "calls/commit")
	b.ReportMetric(float64(st.Pages-before.Pages)/float64(commits), "pages/commit")
}

// BenchmarkSpoolParallel spools one 1 KB item per call from
// GOMAXPROCS×p goroutines; calls/commit shows the group commit.
func BenchmarkSpoolParallel(b *testing.B) {
	for _, p := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("p=%d", p), func(b *testing.B) {
			s := openT(b, b.TempDir(), store.Options{})
			data := make([]byte, 1024)
			before := s.Stats()
			b.SetParallelism(p)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				items := []store.Item{{Kind: store.KindInbound, Lane: "c1/u1", Data: data}}
				for pb.Next() {
					if _, err := s.Spool(items); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportCommits(b, s, before)
		})
	}
}

// BenchmarkSpoolAck is one message's life: the event is spooled with a
// dedup key, acked with the reply, and the reply acked once sent. The
// dedup index first holds 200,000 keys (a few hours of a busy Page), and
// keys are random as Meta's message ids are; "at" gives them the
// provider's time (store.Item.DedupAt), as the pipeline does.
// pages/commit is what a commit writes (each page a pwrite, and fsynced).
func BenchmarkSpoolAck(b *testing.B) {
	for _, withAt := range []bool{false, true} {
		for _, p := range []int{1, 64} {
			b.Run(fmt.Sprintf("at=%v/p=%d", withAt, p), func(b *testing.B) {
				s := openT(b, b.TempDir(), store.Options{})
				var id atomic.Uint64
				item := func(data []byte) store.Item {
					it := store.Item{Kind: store.KindInbound, DedupKey: fmt.Sprintf("m_%016x", (id.Add(1)+1)*0x9e3779b97f4a7c15), Lane: "c1/u1", Data: data}
					if withAt {
						it.DedupAt = time.Now()
					}
					return it
				}
				fill := make([]store.Item, 1000)
				for range 200 {
					for i := range fill {
						fill[i] = item(nil)
					}
					if _, err := s.Spool(fill); err != nil {
						b.Fatal(err)
					}
				}
				data := make([]byte, 1024)
				before := s.Stats()
				b.SetParallelism(p)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						seqs, err := s.Spool([]store.Item{item(data)})
						if err != nil {
							b.Error(err)
							return
						}
						replies, err := s.Ack(seqs[0], []store.Item{{Kind: store.KindOutbound, Lane: "c1/u1", Data: data}})
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := s.Ack(replies[0], nil); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				reportCommits(b, s, before)
			})
		}
	}
}

// BenchmarkGet reads 64-byte values from a bucket of 10,000 keys.
func BenchmarkGet(b *testing.B) {
	s := openT(b, b.TempDir(), store.Options{})
	const keys = 10_000
	items := make([]store.Item, 0, 1000)
	for i := range keys {
		items = append(items, store.Item{Kind: store.KindInbound, Sets: []store.KV{
			{Bucket: store.BucketIdentity, Key: fmt.Sprintf("c1/user-%d", i), Value: make([]byte, 64)},
		}})
		if len(items) == cap(items) {
			if _, err := s.Spool(items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("c1/user-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			v, err := s.Get(store.BucketIdentity, names[i%keys])
			if err != nil || len(v) != 64 {
				b.Errorf("Get = %d bytes, %v", len(v), err)
				return
			}
			i += 7919
		}
	})
}

// BenchmarkCommit is one caller writing alone: ns/op is the latency of one
// fsynced bbolt commit on this disk.
func BenchmarkCommit(b *testing.B) {
	s := openT(b, b.TempDir(), store.Options{})
	value := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Put(store.BucketWindow, fmt.Sprint(i%100), value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFdatasync is the disk's floor: rewrite one 4 KB page and
// fdatasync, as bbolt does per commit (it writes more than one page).
func BenchmarkFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	b.ResetTimer()
	for i := range b.N {
		if _, err := f.WriteAt(page, int64(i%16)*4096); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
