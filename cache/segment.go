package cache

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// entryOverhead approximates, in bytes, what one entry costs beyond its
// body, header, tags and key: the Entry and stored structs, ristretto's
// store item and policy counters, and the index map entries.
const entryOverhead = 512

// assumedEntrySize is the average entry size used to size ristretto's
// frequency counters (10 per expected entry, as ristretto recommends).
// Resized web images are typically 10-100 KiB; guessing low only costs a few
// bytes per counter.
const assumedEntrySize = 8 << 10

// stored is the value kept in ristretto: the entry plus what the index needs
// to clean up after it, since ristretto's callbacks only carry key hashes.
type stored struct {
	key     string
	entry   Entry // Header and Tags are private copies
	expires time.Time
	cost    int64
	// gone is set once the value has left the index (purged, expired,
	// evicted, rejected); a Get that still finds it in ristretto misses.
	gone atomic.Bool
}

func newStored(key string, e *Entry, expires time.Time) *stored {
	s := &stored{key: key, entry: *e, expires: expires}
	s.entry.Header = e.Header.Clone()
	s.entry.Tags = slices.Clone(e.Tags)
	s.entry.Expires = expires
	s.entry.FromDisk = false // memory's copy
	s.cost = int64(len(e.Body)) + headerBytes(e.Header) + int64(len(key)) + entryOverhead
	for _, t := range e.Tags {
		s.cost += int64(len(t)) + 16
	}
	return s
}

// headerBytes approximates the memory held by h: names, values and the
// string and slice headers around them.
func headerBytes(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		n += int64(len(k)) + 16 + 24
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// segment is one byte budget: a ristretto cache and its purge index.
type segment struct {
	name     string
	maxBytes int64
	rc       *ristretto.Cache[string, *stored]

	// setMu serialises Sets, so that two Sets of the same key never race
	// inside ristretto (which would reject the second as a duplicate after
	// it had replaced the first in the index).
	setMu sync.Mutex

	// mu guards the index. It is taken by ristretto's callbacks, so it must
	// never be held while calling into ristretto.
	mu    sync.Mutex
	byKey map[string]*stored
	byTag map[string]map[string]struct{}

	// closing stops the callbacks from counting the entries that Close
	// clears as evictions.
	closing atomic.Bool

	hits, misses, evictions, expired, rejections, purged atomic.Uint64
}

func newSegment(name string, maxBytes int64) (*segment, error) {
	seg := &segment{
		name:     name,
		maxBytes: maxBytes,
		byKey:    make(map[string]*stored),
		byTag:    make(map[string]map[string]struct{}),
	}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *stored]{
		NumCounters:        max(maxBytes/assumedEntrySize*10, 1000),
		MaxCost:            maxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true, // entryOverhead accounts for it, in bytes
		OnEvict:            seg.onEvict,
		OnReject:           seg.onReject,
		OnExit:             seg.onExit,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %s: %w", name, err)
	}
	seg.rc = rc
	return seg, nil
}

func (seg *segment) get(key string, now time.Time) (*Entry, bool) {
	s, ok := seg.rc.Get(key)
	if !ok || s == nil || s.gone.Load() {
		seg.misses.Add(1)
		return nil, false
	}
	if !now.Before(s.expires) {
		seg.misses.Add(1)
		if seg.forget(s) {
			seg.expired.Add(1)
			seg.rc.Del(key)
		}
		return nil, false
	}
	seg.hits.Add(1)
	e := s.entry
	e.Header = s.entry.Header.Clone()
	e.Tags = slices.Clone(s.entry.Tags)
	return &e, true
}

func (seg *segment) set(s *stored, ttl time.Duration) bool {
	if s.cost > seg.maxBytes {
		seg.rejections.Add(1)
		return false
	}
	seg.setMu.Lock()
	defer seg.setMu.Unlock()
	seg.remember(s)
	if !seg.rc.SetWithTTL(s.key, s, s.cost, ttl) {
		// Dropped before reaching the policy; no callback will come.
		if seg.forget(s) {
			seg.rejections.Add(1)
		}
		return false
	}
	seg.rc.Wait()
	return !s.gone.Load()
}

// purge drops every entry carrying tag, or every entry when all is set.
func (seg *segment) purge(tag string, all bool) int {
	seg.mu.Lock()
	var victims []*stored
	if all {
		for _, s := range seg.byKey {
			victims = append(victims, s)
		}
	} else {
		for key := range seg.byTag[tag] {
			if s := seg.byKey[key]; s != nil {
				victims = append(victims, s)
			}
		}
	}
	for _, s := range victims {
		seg.forgetLocked(s)
	}
	seg.mu.Unlock()
	for _, s := range victims {
		seg.rc.Del(s.key)
	}
	seg.purged.Add(uint64(len(victims)))
	return len(victims)
}

// drop removes s, if it is still what its key holds.
func (seg *segment) drop(s *stored) {
	if seg.forget(s) {
		seg.rc.Del(s.key)
	}
}

// remember indexes s, replacing any previous value under its key.
func (seg *segment) remember(s *stored) {
	seg.mu.Lock()
	defer seg.mu.Unlock()
	if old := seg.byKey[s.key]; old != nil {
		seg.untagLocked(old)
	}
	seg.byKey[s.key] = s
	for _, t := range s.entry.Tags {
		keys := seg.byTag[t]
		if keys == nil {
			keys = make(map[string]struct{})
			seg.byTag[t] = keys
		}
		keys[s.key] = struct{}{}
	}
}

// forget removes s from the index if s is still the value indexed under its
// key, marks it gone, and reports whether it did.
func (seg *segment) forget(s *stored) bool {
	if s == nil {
		return false
	}
	seg.mu.Lock()
	defer seg.mu.Unlock()
	return seg.forgetLocked(s)
}

func (seg *segment) forgetLocked(s *stored) bool {
	if seg.byKey[s.key] != s {
		return false
	}
	delete(seg.byKey, s.key)
	seg.untagLocked(s)
	s.gone.Store(true)
	return true
}

func (seg *segment) untagLocked(s *stored) {
	for _, t := range s.entry.Tags {
		keys := seg.byTag[t]
		delete(keys, s.key)
		if len(keys) == 0 {
			delete(seg.byTag, t)
		}
	}
}

// onEvict sees capacity evictions (Expiration zero) and ristretto's TTL
// sweep (Expiration set). Either way the value leaves the index.
func (seg *segment) onEvict(item *ristretto.Item[*stored]) {
	if !seg.forget(item.Value) || seg.closing.Load() {
		return
	}
	if item.Expiration.IsZero() {
		seg.evictions.Add(1)
	} else {
		seg.expired.Add(1)
	}
}

// onReject sees values the admission policy refused.
func (seg *segment) onReject(item *ristretto.Item[*stored]) {
	if seg.forget(item.Value) && !seg.closing.Load() {
		seg.rejections.Add(1)
	}
}

// onExit sees every value leaving ristretto, including deletes and values
// replaced by a newer Set. Pointer identity in forget makes a replaced value
// leave the newer one indexed.
func (seg *segment) onExit(s *stored) {
	seg.forget(s)
}

// indexSize is the number of key and tag->key records in the index.
func (seg *segment) indexSize() int {
	seg.mu.Lock()
	defer seg.mu.Unlock()
	n := len(seg.byKey)
	for _, keys := range seg.byTag {
		n += len(keys)
	}
	return n
}

type segmentStats struct {
	hits, misses, evictions, expired, rejections, purged uint64
	bytesHeld, maxBytes                                  int64
	entries                                              int
}

func (seg *segment) stats(closed bool) segmentStats {
	st := segmentStats{
		hits:       seg.hits.Load(),
		misses:     seg.misses.Load(),
		evictions:  seg.evictions.Load(),
		expired:    seg.expired.Load(),
		rejections: seg.rejections.Load(),
		purged:     seg.purged.Load(),
		maxBytes:   seg.maxBytes,
	}
	if !closed {
		st.bytesHeld = seg.rc.MaxCost() - seg.rc.RemainingCost()
		seg.mu.Lock()
		st.entries = len(seg.byKey)
		seg.mu.Unlock()
	}
	return st
}

func (seg *segment) close() {
	seg.closing.Store(true)
	seg.rc.Close()
	seg.mu.Lock()
	clear(seg.byKey)
	clear(seg.byTag)
	seg.mu.Unlock()
}
