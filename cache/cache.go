// Package cache is imgedge's in-memory response cache: encoded image
// variants and, in a separate and smaller budget, the originals they were made
// from. It also provides Group, which collapses concurrent identical misses
// into one piece of work.
//
// # Design
//
// Each budget is its own github.com/dgraph-io/ristretto/v2 cache, so a burst
// of large originals can never push resized variants out (they are cheap to
// serve and expensive to make). Ristretto gives TinyLFU admission and sampled
// LFU eviction with a cost budget; the cost of an entry is its size in bytes:
// len(Body), plus an approximation of the header, tag and key bytes, plus a
// fixed per-entry overhead for the bookkeeping (see entryOverhead). Ristretto's
// own internal cost is switched off so the budget is measured in one unit.
//
// Ristretto buffers Sets and applies them on a background goroutine. Set
// waits for that goroutine (ristretto's Wait) so an entry is visible to the next
// Get, and reports whether it was admitted. Sets within a budget are
// serialised, which is cheap next to the image work that precedes each one.
//
// Expiry is checked on every Get against Config.Now, so an expired entry is a
// miss at once and tests can move time with an injected clock. The same TTL
// is given to ristretto, whose background sweep frees the memory of entries
// nobody asks for again.
//
// # Purge index
//
// Ristretto keeps only 64-bit hashes of its keys, and the one way to find
// entries by anything else is IterValues, a walk over every value in the
// cache. Purge needs tag -> keys without that walk, so each budget keeps a
// small index next to ristretto: key -> *stored (the value stored in
// ristretto) and tag -> set of keys. The value stored in ristretto is that
// *stored, which carries its own key and tags, so every callback (OnEvict for
// capacity and TTL evictions, OnReject for admission refusals, OnExit for
// deletes and replacements) can drop exactly its own index entries. Removal is
// by pointer identity: a callback for a value that has since been replaced
// under the same key leaves the newer value's entries alone. Sets that
// ristretto drops before they reach the policy are removed by Set itself.
// Every way a value can leave ristretto therefore cleans the index, and the
// index never holds more than the entries the cache holds plus the Sets in
// flight.
//
// Purge removes the tagged values from the index, marks them gone (so a Get
// that races with the delete already misses) and deletes them from
// ristretto, which removes them from its map immediately.
//
// # Sharing
//
// Set copies the Entry's Header and Tags, so the caller may reuse them. Get
// returns a copy of the Entry with its own Header, which the caller may change
// freely; Body is shared by every reader and must not be modified.
package cache

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is a cached, encoded response: a resized variant or an original.
type Entry struct {
	// Body is the encoded response body. It is shared by every Get that
	// returns this entry and must be treated as read-only.
	Body []byte
	// Header holds the headers to replay with the body (Content-Type, ETag,
	// Cache-Control, Last-Modified, Vary...).
	Header http.Header
	// Width and Height are the output pixels, used for usage metering on
	// hits. They are 0 for originals.
	Width, Height int
	// Tags are purge handles, such as "src:<tenant>|<source path>" and
	// "tenant:<tenant>". See Cache.Purge.
	Tags []string
	// Expires is the absolute expiry. Zero means now + Config.DefaultTTL.
	// Set caps it at now + Config.MaxTTL and refuses entries that have
	// already expired.
	Expires time.Time
	// Parsed is what the cache's user made of Body (an inspected header, a
	// hash), kept with it so that a hit need not do it again. The cache
	// never looks at it.
	Parsed any
	// FromDisk says Get read the entry from the disk tier (memory missed).
	FromDisk bool
}

// Config configures a Cache. The zero value is valid and gives the defaults
// documented on each field.
type Config struct {
	// MaxBytes is the budget for resized variants, in bytes. An entry costs
	// len(Body) plus its approximate header, tag and key bytes plus a fixed
	// overhead of a few hundred bytes. Default: DefaultMaxBytes(), which is
	// 1/8 of the memory available to the process, between 64 MiB and 1 GiB.
	//
	// Sizing: the cache is the process's largest user of memory. Leave room
	// for libvips, which needs several times the decoded size of each image
	// being processed (width x height x bands per concurrent job), and for
	// the buffered originals in flight. A budget worth a few hours of
	// distinct requests is usually plenty; beyond that the hit ratio rises
	// slowly.
	MaxBytes int64

	// OriginalsMaxBytes is a separate budget for originals, so that fetching
	// sources never evicts variants. Originals are only reused when another
	// variant of the same source is asked for soon after, so this budget can
	// be small. Default: MaxBytes/4.
	OriginalsMaxBytes int64

	// MinTTL is the floor applied to every TTL computed by Cache.TTL: an
	// origin that says max-age=5 is still cached for MinTTL. Default: 1m.
	MinTTL time.Duration

	// MaxTTL caps every TTL, both the ones computed by Cache.TTL and the
	// Expires given to Set, so a purge-less deployment still refreshes.
	// Default: 7 days (168h).
	MaxTTL time.Duration

	// DefaultTTL is the TTL when the origin gives no freshness information,
	// and the lifetime of entries set with a zero Expires. It is clamped to
	// [MinTTL, MaxTTL]. Default: 1h.
	DefaultTTL time.Duration

	// Disk, when set, keeps variants and originals on disk too, behind
	// memory (see OpenDisk). Several caches may share one; its owner
	// closes it.
	Disk *Disk

	// Now is the clock used for expiry. Default: time.Now. Tests inject a
	// fake clock here instead of sleeping.
	Now func() time.Time
}

// Default values used when the matching Config field is zero.
const (
	DefaultMinTTL     = time.Minute
	DefaultMaxTTL     = 7 * 24 * time.Hour
	DefaultDefaultTTL = time.Hour
)

// withDefaults returns a copy of cfg with zero fields filled in, or an error
// naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.MaxBytes < 0:
		return cfg, fmt.Errorf("cache: MaxBytes must not be negative, got %d", cfg.MaxBytes)
	case cfg.OriginalsMaxBytes < 0:
		return cfg, fmt.Errorf("cache: OriginalsMaxBytes must not be negative, got %d", cfg.OriginalsMaxBytes)
	case cfg.MinTTL < 0:
		return cfg, fmt.Errorf("cache: MinTTL must not be negative, got %v", cfg.MinTTL)
	case cfg.MaxTTL < 0:
		return cfg, fmt.Errorf("cache: MaxTTL must not be negative, got %v", cfg.MaxTTL)
	case cfg.DefaultTTL < 0:
		return cfg, fmt.Errorf("cache: DefaultTTL must not be negative, got %v", cfg.DefaultTTL)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes()
	}
	if cfg.OriginalsMaxBytes == 0 {
		cfg.OriginalsMaxBytes = max(cfg.MaxBytes/4, 1)
	}
	if cfg.MinTTL == 0 {
		cfg.MinTTL = DefaultMinTTL
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = DefaultDefaultTTL
	}
	if cfg.MinTTL > cfg.MaxTTL {
		return cfg, fmt.Errorf("cache: MinTTL (%v) is greater than MaxTTL (%v)", cfg.MinTTL, cfg.MaxTTL)
	}
	cfg.DefaultTTL = clampDuration(cfg.DefaultTTL, cfg.MinTTL, cfg.MaxTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// Cache holds encoded variants and originals in two byte budgets. It is safe
// for concurrent use. A nil *Cache is a valid, always-empty cache: Get misses,
// Set refuses, Purge drops nothing.
type Cache struct {
	cfg       Config
	variants  *segment
	originals *segment
	disk      *Disk // nil: memory only
	purges    atomic.Uint64

	// life guards against using the ristretto caches while Close tears them
	// down: every operation holds it for reading, Close for writing.
	life   sync.RWMutex
	closed bool
}

// New returns a Cache for cfg, or an error naming the invalid setting.
func New(cfg Config) (*Cache, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	variants, err := newSegment("variants", cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	originals, err := newSegment("originals", cfg.OriginalsMaxBytes)
	if err != nil {
		variants.close()
		return nil, err
	}
	return &Cache{cfg: cfg, variants: variants, originals: originals, disk: cfg.Disk}, nil
}

// spaceOf is the disk tier's space for seg's entries, nil without one.
func (c *Cache) spaceOf(seg *segment) *diskSpace {
	if c.disk == nil {
		return nil
	}
	if seg == c.originals {
		return c.disk.spaces[1]
	}
	return c.disk.spaces[0]
}

// Get returns the variant stored under key. An expired entry is a miss.
func (c *Cache) Get(key string) (*Entry, bool) {
	return c.get(c.segment(false), key)
}

// Set stores a variant under key, replacing any previous one. The entry is
// visible to the next Get when Set returns. Set returns false when the entry
// was not stored: larger than the budget, refused by the admission policy,
// already expired, or the cache is nil or closed. When Set refuses an entry,
// a previous entry under key stays until it expires or is purged.
func (c *Cache) Set(key string, e *Entry) bool {
	return c.set(c.segment(false), key, e)
}

// GetOriginal is Get for originals, which live in their own budget.
func (c *Cache) GetOriginal(key string) (*Entry, bool) {
	return c.get(c.segment(true), key)
}

// SetOriginal is Set for originals, which live in their own budget.
func (c *Cache) SetOriginal(key string, e *Entry) bool {
	return c.set(c.segment(true), key, e)
}

func (c *Cache) segment(original bool) *segment {
	if c == nil {
		return nil
	}
	if original {
		return c.originals
	}
	return c.variants
}

func (c *Cache) get(seg *segment, key string) (*Entry, bool) {
	if seg == nil {
		return nil, false
	}
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return nil, false
	}
	now := c.cfg.Now()
	if e, ok := seg.get(key, now); ok {
		return e, true
	}
	s := c.spaceOf(seg)
	if s == nil {
		return nil, false
	}
	e, m, ok := c.disk.get(s, key)
	if !ok {
		return nil, false
	}
	// Read from disk: into memory too, as the admission policy allows.
	if ttl := e.Expires.Sub(now); ttl > 0 {
		st := newStored(key, e, e.Expires)
		seg.set(st, ttl)
		// A purge that ran while it was read must not leave it in memory:
		// purge journals on disk before it clears memory, so either this
		// sees the purge or the purge clears what this put back.
		if c.disk.purged(m) {
			seg.drop(st)
			return nil, false
		}
	}
	e.FromDisk = true
	return e, true
}

func (c *Cache) set(seg *segment, key string, e *Entry) bool {
	if seg == nil || e == nil {
		return false
	}
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return false
	}
	now := c.cfg.Now()
	expires := e.Expires
	if expires.IsZero() {
		expires = now.Add(c.cfg.DefaultTTL)
	}
	if limit := now.Add(c.cfg.MaxTTL); expires.After(limit) {
		expires = limit
	}
	ttl := expires.Sub(now)
	if ttl <= 0 {
		return false
	}
	st := newStored(key, e, expires)
	stored := seg.set(st, ttl)
	if s := c.spaceOf(seg); s != nil {
		// In the background: the answer never waits for the disk. The
		// stored copy's Header and Tags are the cache's own.
		c.disk.set(s, key, &st.entry, now, expires)
	}
	return stored
}

// Purges counts the purges so far: a caller that reads it before it
// fetches something to store, and again before it stores it, can tell
// whether a purge ran in between (and then not store what may be stale).
func (c *Cache) Purges() uint64 {
	if c == nil {
		return 0
	}
	return c.purges.Load()
}

// Purge drops every variant and original carrying tag and returns how many
// entries were dropped. Dropped entries miss from the moment Purge returns.
func (c *Cache) Purge(tag string) int { return c.purge(tag, false) }

// PurgeAll drops every entry, for a node that cannot know what it should
// have purged.
func (c *Cache) PurgeAll() int { return c.purge("", true) }

func (c *Cache) purge(tag string, all bool) int {
	if c == nil || c.variants == nil {
		return 0
	}
	c.purges.Add(1)
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return 0
	}
	// The disk first: a read racing with the purge then sees it journalled
	// (see get).
	onDisk := 0
	if c.disk != nil {
		onDisk = c.disk.purge(tag, all)
	}
	// An entry may be in both tiers: the larger count is the entries gone.
	return max(onDisk, c.variants.purge(tag, all)+c.originals.purge(tag, all))
}

// Stats is a snapshot of the cache counters. Counters (Hits, Misses,
// Evictions, ...) only grow; BytesHeld and Entries are current levels.
// Fields without the Original prefix are about variants.
type Stats struct {
	Hits       uint64 // Get calls that found a fresh entry
	Misses     uint64 // Get calls that found nothing, or an expired or purged entry
	Evictions  uint64 // entries evicted to make room for others
	Expired    uint64 // entries dropped because their TTL had passed
	Rejections uint64 // Sets refused: larger than the budget, by admission, or dropped under contention
	BytesHeld  int64  // cost of the entries held, in bytes
	Entries    int    // entries held
	MaxBytes   int64  // the variant budget

	OriginalHits       uint64
	OriginalMisses     uint64
	OriginalEvictions  uint64
	OriginalExpired    uint64
	OriginalRejections uint64
	OriginalBytesHeld  int64
	OriginalEntries    int
	OriginalsMaxBytes  int64

	Purged uint64 // entries dropped by Purge, variants and originals
}

// Stats returns a snapshot of the counters. It is meant to be read by a
// metrics exporter; on a nil or closed Cache the levels are zero.
func (c *Cache) Stats() Stats {
	if c == nil || c.variants == nil {
		return Stats{}
	}
	c.life.RLock()
	defer c.life.RUnlock()
	v, o := c.variants.stats(c.closed), c.originals.stats(c.closed)
	return Stats{
		Hits:       v.hits,
		Misses:     v.misses,
		Evictions:  v.evictions,
		Expired:    v.expired,
		Rejections: v.rejections,
		BytesHeld:  v.bytesHeld,
		Entries:    v.entries,
		MaxBytes:   v.maxBytes,

		OriginalHits:       o.hits,
		OriginalMisses:     o.misses,
		OriginalEvictions:  o.evictions,
		OriginalExpired:    o.expired,
		OriginalRejections: o.rejections,
		OriginalBytesHeld:  o.bytesHeld,
		OriginalEntries:    o.entries,
		OriginalsMaxBytes:  o.maxBytes,

		Purged: v.purged + o.purged,
	}
}

// Close releases the cache's memory and background goroutines. Calls in
// flight finish first; afterwards the cache behaves as empty. Close may be
// called more than once and on a nil *Cache.
func (c *Cache) Close() {
	if c == nil || c.variants == nil {
		return
	}
	c.life.Lock()
	defer c.life.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.variants.close()
	c.originals.close()
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}
