package cache

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/internal/dirlock"
)

// The disk tier keeps variants and originals behind the memory cache, in
// plain files in sharded directories, as nginx's proxy_cache and Traffic
// Server do: <dir>/v/ab/cd/<hash> for variants, <dir>/o/... for originals.
// Plain files were chosen over an embedded store (bbolt, Badger, Pebble)
// for values of 5 KB to 5 MB: a hit is one open and one read straight from
// the page cache, a write is one file and a rename, eviction is an unlink,
// and nothing has to be compacted or garbage-collected; an embedded store
// would copy large values through its log or B-tree pages and need its
// own compaction, for an index imgedge can rebuild from the files.
//
// Crash safety: an entry is written to <dir>/tmp, then renamed into place,
// and carries its length and MAC (diskfile.go): a crash leaves the whole
// entry or one that fails its check and is dropped, never served. The
// directory is the node's own, and nothing in it is trusted that the
// tier did not write (diskdir.go).
// Purges are journalled (<dir>/purges, fsynced) as tag and time, and an
// entry written before a purge of one of its tags is dead: a purge
// survives a restart even for entries the index has not found yet. A
// tier whose process was gone longer than MaxDowntime (it misses the
// fleet's purges of that time) starts empty.
//
// On start the tier serves at once: a read goes straight to the file its
// key names; the index (sizes, recency, tags), which eviction and purges
// need, is rebuilt in the background from the files' first bytes.

// DiskConfig configures the disk tier of a Cache.
type DiskConfig struct {
	// Dir is the tier's directory; one process holds it (dir/LOCK). It
	// must be the process's own: made 0700 when missing, refused
	// (ErrDiskUntrusted) when another user owns it or group or others may
	// write it.
	Dir string
	// MaxBytes bounds the tier on disk, file-system blocks counted:
	// three quarters for variants, a quarter for originals.
	MaxBytes int64
	// MaxDowntime: a tier whose process was gone longer starts empty.
	// Default: 1h, the fleet purge log's retention.
	MaxDowntime time.Duration
	// Logger receives disk trouble. Default: none.
	Logger *zap.Logger
}

const (
	diskQueue         = 256              // writes waiting; beyond it a write is dropped
	diskQueueBytes    = 256 << 20        // bytes of writes waiting; beyond it too
	diskAliveInterval = 30 * time.Second // how often the tier says it is alive
	diskScanHead      = 8 << 10          // bytes read of each file to index it
	diskBlock         = 4096
	diskInodeCost     = 512 // a file's own cost beyond its blocks
)

// ErrDiskInUse is a disk tier directory another process or config holds.
var ErrDiskInUse = dirlock.ErrInUse

// Disk is a disk tier: open it with OpenDisk, give it to any number of
// caches (Config.Disk), and Close it when none uses it any more.
type Disk struct {
	cfg     DiskConfig
	log     *zap.Logger
	lock    *os.File
	root    *os.Root // every file of the tier is reached through it
	secret  []byte   // signs the entries (diskfile.go)
	temps   atomic.Uint64
	spaces  [2]*diskSpace // variants, originals
	writes  chan diskWrite
	done    chan struct{}
	wg      sync.WaitGroup
	closing sync.Once

	pmu     sync.RWMutex
	purges  map[string]time.Time // tag ("*": everything) -> last purge
	jmu     sync.Mutex           // orders the journal's appends
	journal *os.File
	queued  atomic.Int64 // bytes of entries waiting to be written

	hits, misses, written, writeErrors, dropped, evictions, corrupt atomic.Uint64
	scanned                                                         atomic.Bool
}

type diskSpace struct {
	root      *os.Root
	dir       string // in root
	originals bool   // whose Content-Types it serves (see servable)
	max       int64
	mu        sync.Mutex
	items     map[string]*list.Element // key -> *diskItem
	lru       *list.List               // most recently used first
	bytes     int64
}

type diskItem struct {
	key, path string
	size      int64 // on disk, blocks and inode counted
	tags      []string
}

type diskWrite struct {
	space            *diskSpace
	key              string
	e                *Entry
	written, expires time.Time
}

// OpenDisk opens (or creates) the tier in cfg.Dir. An error wrapping
// ErrDiskInUse is a configuration error; any other means the directory
// cannot be used (ErrDiskUntrusted: it is not the process's own), and
// caches work from memory.
func OpenDisk(cfg DiskConfig) (*Disk, error) {
	if cfg.MaxBytes <= 0 {
		return nil, fmt.Errorf("cache: disk tier %s: a size is required", cfg.Dir)
	}
	if cfg.MaxDowntime == 0 {
		cfg.MaxDowntime = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	// The directory as it is now, links resolved once: the tier holds on
	// to it, and one that its parent lets others swap is refused.
	dir, err := filepath.EvalSymlinks(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	if err := checkParent(dir); err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	cfg.Dir = dir
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	if err := checkOwnDir(root, cfg.Dir); err != nil {
		root.Close()
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	lock, err := dirlock.Lock(cfg.Dir, "a disk cache")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	d := &Disk{cfg: cfg, log: cfg.Logger, lock: lock, root: root, writes: make(chan diskWrite, diskQueue),
		done: make(chan struct{}), purges: map[string]time.Time{}}
	for i, name := range []string{"v", "o"} {
		share := cfg.MaxBytes * 3 / 4
		if i == 1 {
			share = cfg.MaxBytes - share
		}
		d.spaces[i] = &diskSpace{root: root, dir: name, originals: i == 1, max: share, items: map[string]*list.Element{}, lru: list.New()}
	}
	if err := d.prepare(); err != nil {
		lock.Close()
		root.Close()
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	d.wg.Add(3)
	go d.writer()
	go d.alive()
	go d.scan()
	return d, nil
}

// prepare clears unfinished writes, loads the secret, empties a tier
// whose entries cannot be trusted or that was gone too long, loads the
// purge journal and proves the directory writable.
func (d *Disk) prepare() error {
	if err := d.root.RemoveAll("tmp"); err != nil {
		return err
	}
	if err := d.root.Mkdir("tmp", 0o700); err != nil {
		return err
	}
	fresh, err := d.loadSecret()
	if err != nil {
		return err
	}
	if why, fields := d.stale(fresh); why != "" {
		d.log.Warn(why+": starting it empty", append(fields, zap.String("dir", d.cfg.Dir))...)
		if err := d.startEmpty(); err != nil {
			return err
		}
	}
	if old, _ := fs.Glob(d.root.FS(), "trash-*"); len(old) > 0 {
		go func() {
			for _, dir := range old {
				_ = d.root.RemoveAll(dir)
			}
		}()
	}
	for _, s := range d.spaces {
		if err := d.root.MkdirAll(s.dir, 0o700); err != nil {
			return err
		}
	}
	_ = d.root.Remove("purges.new") // the previous release's
	if err := d.loadJournal(); err != nil {
		return fmt.Errorf("purge journal: %w", err)
	}
	if err := d.touchAlive(); err != nil {
		d.journal.Close()
		return err
	}
	return nil
}

// stale says why the entries already on disk must not be served, if they
// must not: the secret is new (they were not signed with it), the purge
// journal is not the tier's, or the tier was away longer than the fleet
// keeps its purges.
func (d *Disk) stale(fresh bool) (string, []zap.Field) {
	alive, err := d.root.Lstat("alive")
	if err != nil {
		return "", nil // a new tier
	}
	journal, err := d.root.Lstat("purges")
	switch {
	case fresh:
		return "the disk cache has no secret yet: its entries (of an earlier release, or not the tier's) cannot be trusted", nil
	case err == nil && !journal.Mode().IsRegular():
		return "the disk cache's purge journal is not a plain file: its purges are unknown", nil
	case time.Now().Sub(alive.ModTime()) > d.cfg.MaxDowntime:
		return "the disk cache was away longer than the fleet keeps its purges", []zap.Field{zap.Time("last_alive", alive.ModTime())}
	}
	return "", nil
}

// startEmpty moves the entries out of the way at once, to be deleted in
// the background (a large tier takes a while to delete, and the node must
// start now), with the purges that were theirs.
func (d *Disk) startEmpty() error {
	trash := "trash-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := d.root.Mkdir(trash, 0o700); err != nil {
		return err
	}
	for _, s := range d.spaces {
		_ = d.root.Rename(s.dir, path.Join(trash, s.dir))
	}
	_ = d.root.Remove("purges")
	return nil
}

// touchAlive renews the alive file, whose time says when the tier last
// ran.
func (d *Disk) touchAlive() error { return d.replace("alive", nil, false) }

// alive keeps the alive file's time current while the tier runs.
func (d *Disk) alive() {
	defer d.wg.Done()
	t := time.NewTicker(diskAliveInterval)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			_ = d.touchAlive()
			return
		case <-t.C:
			_ = d.touchAlive()
			d.trimPurges()
		}
	}
}

// loadJournal reads the purges still relevant (younger than the longest
// TTL an entry can have) and rewrites the journal with just those. Tags
// are quoted, so no tag can span lines; a line torn by a crash is
// skipped.
func (d *Disk) loadJournal() error {
	if b, err := d.readFile("purges", math.MaxInt64); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			at, quoted, ok := strings.Cut(line, "\t")
			n, err := strconv.ParseInt(at, 10, 64)
			if !ok || err != nil {
				continue
			}
			tag, err := strconv.Unquote(quoted)
			if err != nil {
				continue
			}
			if t := time.Unix(0, n); t.After(d.purges[tag]) && time.Now().Sub(t) < DefaultMaxTTL {
				d.purges[tag] = t
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b strings.Builder
	for tag, t := range d.purges {
		b.WriteString(journalLine(t, tag))
	}
	// The rename is durable too, or a power loss may bring back the old
	// journal without the purges appended since.
	if err := d.replace("purges", []byte(b.String()), true); err != nil {
		return err
	}
	f, _, err := d.open("purges", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	d.journal = f
	return nil
}

func journalLine(t time.Time, tag string) string {
	return strconv.FormatInt(t.UnixNano(), 10) + "\t" + strconv.Quote(tag) + "\n"
}

// trimPurges forgets purges older than any entry can live: the journal
// still has them until the next start rewrites it.
func (d *Disk) trimPurges() {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	for tag, t := range d.purges {
		if time.Now().Sub(t) > DefaultMaxTTL {
			delete(d.purges, tag)
		}
	}
}

// pathOf is where key's entry lives in s, in the tier's directory.
func (s *diskSpace) pathOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:20])
	return path.Join(s.dir, h[:2], h[2:4], h)
}

// get reads key's entry from s: a miss when there is none, or it is
// corrupt (or not the tier's, or not of a type it serves), expired or
// purged (and then gone from disk too).
func (d *Disk) get(s *diskSpace, key string) (*Entry, diskMeta, bool) {
	path := s.pathOf(key)
	b, err := d.readFile(path, s.max)
	var (
		e *Entry
		m diskMeta
	)
	if err == nil {
		e, m, err = decodeDiskEntry(d.secret, b)
	}
	if err == nil {
		e.Header, err = diskHeader(e, s.originals)
	}
	switch {
	case errors.Is(err, errCorrupt), errors.Is(err, errNotPlain), errors.Is(err, errNotServable):
		// Counted once, by whoever removes it: the start-up scan may meet
		// the same file.
		if d.drop(s, key, path) {
			d.corrupt.Add(1)
			d.log.Warn("dropped a disk cache entry that fails its check", zap.String("path", path), zap.Error(err))
		}
	case err != nil:
		if errors.Is(err, fs.ErrNotExist) {
			s.forget(key) // evicted or dropped meanwhile
		}
	case m.key != key:
		d.misses.Add(1) // another key of the same hash: never served
		return nil, diskMeta{}, false
	case !time.Now().Before(m.expires) || d.purged(m):
		d.drop(s, key, path)
	default:
		s.touch(key, path, diskSize(int64(len(b))), m.tags)
		d.hits.Add(1)
		return e, m, true
	}
	d.misses.Add(1)
	return nil, diskMeta{}, false
}

// purged tells whether a purge of one of the entry's tags came after it
// was written.
func (d *Disk) purged(m diskMeta) bool {
	d.pmu.RLock()
	defer d.pmu.RUnlock()
	if t, ok := d.purges["*"]; ok && !m.written.After(t) {
		return true
	}
	for _, tag := range m.tags {
		if t, ok := d.purges[tag]; ok && !m.written.After(t) {
			return true
		}
	}
	return false
}

// set queues the entry, stored at written, for writing. It is dropped
// when the queue is full (the disk is too slow to keep up, and the answer
// never waits for it), when it is too large for its space (it would
// evict most of it), and when the tier would not serve it (see
// diskHeader). Its lifetime on disk is capped at the longest TTL
// the purge journal remembers purges for.
func (d *Disk) set(s *diskSpace, key string, e *Entry, written, expires time.Time) {
	select {
	case <-d.done:
		return
	default:
	}
	size := int64(len(e.Body))
	if diskSize(size) > s.max/8 {
		d.dropped.Add(1)
		return
	}
	if limit := written.Add(DefaultMaxTTL); expires.After(limit) {
		expires = limit
	}
	// Only what the tier would serve is written: the memory's copy keeps
	// its own header.
	header, err := diskHeader(e, s.originals)
	if err != nil {
		d.dropped.Add(1)
		return
	}
	kept := *e
	kept.Header = header
	if d.queued.Add(size) > diskQueueBytes {
		d.queued.Add(-size)
		d.dropped.Add(1)
		return
	}
	w := diskWrite{space: s, key: key, e: &kept, written: written, expires: expires}
	select {
	case d.writes <- w:
	default:
		d.queued.Add(-size)
		d.dropped.Add(1)
	}
}

// writer writes the queued entries until the tier closes.
func (d *Disk) writer() {
	defer d.wg.Done()
	for {
		select {
		case w := <-d.writes:
			d.write(w)
		case <-d.done:
			return
		}
	}
}

func (d *Disk) write(w diskWrite) {
	defer d.queued.Add(-int64(len(w.e.Body)))
	path := w.space.pathOf(w.key)
	b, err := encodeDiskEntry(d.secret, w.key, w.e, w.written, w.expires)
	if err == nil {
		err = d.replace(path, b, false)
	}
	if err != nil {
		if n := d.writeErrors.Add(1); n == 1 || n%1000 == 0 {
			d.log.Error("cannot write to the disk cache; serving from memory", zap.String("dir", d.cfg.Dir),
				zap.Uint64("write_errors", n), zap.Error(err))
		}
		return
	}
	d.written.Add(1)
	w.space.touch(w.key, path, diskSize(int64(len(b))), w.e.Tags)
	d.evictions.Add(w.space.evict())
}

// drop removes key's file and forgets it.
func (d *Disk) drop(s *diskSpace, key, path string) (removed bool) {
	removed = d.root.Remove(path) == nil
	s.forget(key)
	return removed
}

// purge journals a purge of tag ("" with all: everything) and removes
// the indexed entries it drops, reporting how many.
func (d *Disk) purge(tag string, all bool) int {
	if all {
		tag = "*"
	}
	now := time.Now()
	d.pmu.Lock()
	d.purges[tag] = now
	d.pmu.Unlock()
	// Journalled outside pmu: reads wait for no fsync.
	d.jmu.Lock()
	_, err := d.journal.WriteString(journalLine(now, tag))
	if err == nil {
		err = d.journal.Sync()
	}
	d.jmu.Unlock()
	if err != nil {
		d.log.Error("cannot journal a purge on the disk cache: it holds until a restart only", zap.String("tag", tag), zap.Error(err))
	}
	n := 0
	for _, s := range d.spaces {
		n += s.remove(func(it *diskItem) bool { return all || slices.Contains(it.tags, tag) })
	}
	return n
}

// scan indexes the files already on disk, dropping the expired, the
// purged and the unreadable, then holds the tier to its budget.
func (d *Disk) scan() {
	defer d.wg.Done()
	defer d.scanned.Store(true)
	head := make([]byte, diskScanHead)
	for _, s := range d.spaces {
		_ = fs.WalkDir(d.root.FS(), s.dir, func(path string, de fs.DirEntry, err error) error {
			select {
			case <-d.done:
				return fs.SkipAll
			default:
			}
			if err != nil || de.IsDir() {
				return nil
			}
			info, err := de.Info()
			if err != nil {
				return nil
			}
			m, err := d.readMeta(s, path, head)
			switch {
			case err != nil && !errors.Is(err, errCorrupt) && !errors.Is(err, errNotPlain):
				// Gone meanwhile, or unreadable for now.
			case err != nil || s.pathOf(m.key) != path:
				if d.root.Remove(path) == nil {
					d.corrupt.Add(1)
				}
			case !time.Now().Before(m.expires) || d.purged(m):
				_ = d.root.Remove(path)
			default:
				s.add(m.key, path, onDisk(info), m.tags)
			}
			return nil
		})
		d.evictions.Add(s.evict())
	}
}

// readMeta reads what the index needs of the file name in s, from its
// first bytes (all of them when its key and tags are longer).
func (d *Disk) readMeta(s *diskSpace, name string, head []byte) (diskMeta, error) {
	f, _, err := d.open(name, os.O_RDONLY, 0)
	if err != nil {
		return diskMeta{}, err
	}
	defer f.Close()
	n, _ := io.ReadFull(f, head)
	m, ok := decodeDiskMeta(head[:n])
	if !ok && n == len(head) {
		rest, err := io.ReadAll(io.LimitReader(f, s.max))
		if err != nil {
			return diskMeta{}, err
		}
		m, ok = decodeDiskMeta(append(head[:n:n], rest...))
	}
	if !ok {
		return diskMeta{}, errCorrupt
	}
	return m, nil
}

// Close stops the writer (what is still queued is lost: a cache) and
// releases the directory.
func (d *Disk) Close() {
	if d == nil {
		return
	}
	d.closing.Do(func() {
		close(d.done)
		d.wg.Wait()
		d.journal.Close()
		d.lock.Close()
		d.root.Close()
	})
}

// diskSize is what a file of n bytes costs on disk.
func diskSize(n int64) int64 { return (n+diskBlock-1)/diskBlock*diskBlock + diskInodeCost }

// onDisk is what a file costs on disk, from its blocks when the system
// says.
func onDisk(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Blocks > 0 {
		return st.Blocks*512 + diskInodeCost
	}
	return diskSize(info.Size())
}

// touch records a use of key, indexing it if it was not.
func (s *diskSpace) touch(key, path string, size int64, tags []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		it := el.Value.(*diskItem)
		s.bytes += size - it.size
		it.size, it.tags = size, tags
		s.lru.MoveToFront(el)
		return
	}
	s.items[key] = s.lru.PushFront(&diskItem{key: key, path: path, size: size, tags: tags})
	s.bytes += size
}

// add indexes a file found by the scan, as the least recently used
// unless a read already indexed it.
func (s *diskSpace) add(key, path string, size int64, tags []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[key]; ok {
		return
	}
	s.items[key] = s.lru.PushBack(&diskItem{key: key, path: path, size: size, tags: tags})
	s.bytes += size
}

func (s *diskSpace) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.bytes -= el.Value.(*diskItem).size
		s.lru.Remove(el)
		delete(s.items, key)
	}
}

// remove deletes the indexed entries that match, and counts them.
func (s *diskSpace) remove(match func(*diskItem) bool) int {
	s.mu.Lock()
	var victims []*diskItem
	for el := s.lru.Front(); el != nil; {
		next := el.Next()
		if it := el.Value.(*diskItem); match(it) {
			victims = append(victims, it)
			s.bytes -= it.size
			s.lru.Remove(el)
			delete(s.items, it.key)
		}
		el = next
	}
	s.mu.Unlock()
	for _, it := range victims {
		_ = s.root.Remove(it.path)
	}
	return len(victims)
}

// evict removes the least recently used entries until the space is
// within its budget, and counts them.
func (s *diskSpace) evict() uint64 {
	var n uint64
	for {
		s.mu.Lock()
		el := s.lru.Back()
		if s.bytes <= s.max || el == nil {
			s.mu.Unlock()
			return n
		}
		it := el.Value.(*diskItem)
		s.bytes -= it.size
		s.lru.Remove(el)
		delete(s.items, it.key)
		s.mu.Unlock()
		if err := s.root.Remove(it.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		n++
	}
}

// DiskStats are the disk tier's figures.
type DiskStats struct {
	Hits, Misses, Written, WriteErrors, Dropped, Evictions, Corrupt uint64
	Bytes                                                           int64 // on disk, as indexed
	Entries                                                         int
	Indexed                                                         bool // the start-up scan is done
}

// Stats returns the tier's figures.
func (d *Disk) Stats() DiskStats {
	st := DiskStats{Hits: d.hits.Load(), Misses: d.misses.Load(), Written: d.written.Load(),
		WriteErrors: d.writeErrors.Load(), Dropped: d.dropped.Load(), Evictions: d.evictions.Load(),
		Corrupt: d.corrupt.Load(), Indexed: d.scanned.Load()}
	for _, s := range d.spaces {
		s.mu.Lock()
		st.Bytes += s.bytes
		st.Entries += len(s.items)
		s.mu.Unlock()
	}
	return st
}
