package metering

import (
	"context"
	"errors"
	"fmt"
	"github.com/imgedge/imgedge/internal/durable"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/internal/dirlock"
)

// Config configures a Meter. Zero fields take the defaults given.
type Config struct {
	// Dir is the spool directory (required). One Meter owns it at a time: New
	// takes an flock on Dir/LOCK and a second opener gets an error.
	Dir string

	// Collector is the URL of the collector's POST /api/v1/events. Empty
	// means spool only: batches are sealed and kept, nothing is shipped.
	// A user and password in it (https://user:pass@host/...) are sent as
	// HTTP basic authentication; they are never logged.
	Collector string

	// Token, when set, is sent as "Authorization: Bearer <token>" with
	// every batch, in place of any basic authentication from Collector.
	// It is never logged. Default: none.
	Token string

	// Source is the CloudEvents source of every event, e.g. "imgedge/edge-1".
	// Default "imgedge".
	Source string

	// BatchInterval: pending records are sealed into a batch at least this
	// often. Default 2s.
	BatchInterval time.Duration

	// BatchRecords seals a batch at this many records. Default 0: no limit,
	// BatchBytes and BatchInterval bound a batch. A record takes about 60
	// bytes in the journal, and a batch is shipped as one rollup event per
	// group, so large batches cost the edge and the collector less.
	BatchRecords int

	// BatchBytes seals a batch before it grows past this many journal
	// bytes. The open segment file is preallocated to this size (cut to
	// what it holds when sealed). Default 1 MiB.
	BatchBytes int

	// SpoolMaxBytes caps the journal bytes in the spool. Beyond it records
	// are summed in memory, by the same groups as the rollups, and written
	// to the journal once there is room. The open segment and a spare one
	// take up to BatchBytes each on disk on top. Default 1 GiB.
	SpoolMaxBytes int64

	// Client sends batches. Default: an http.Client with a 10s timeout.
	Client *http.Client

	// MinBackoff and MaxBackoff bound the exponential backoff (with full
	// jitter) between retries of a batch. Defaults 500ms and 1m. A
	// Retry-After from the collector (seconds or HTTP date) is honoured.
	MinBackoff, MaxBackoff time.Duration

	// Logger receives warnings and errors. Default zap.NewNop().
	Logger *zap.Logger

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Stats are counters of a Meter since New, plus its current backlog.
type Stats struct {
	Recorded        int64 // records given to Record
	Sealed          int64 // batches sealed
	ShippedBatches  int64 // batches acknowledged by the collector
	ShippedEvents   int64 // events in those batches (rollups)
	ShippedRequests int64 // requests those events stand for
	Retries         int64 // failed shipping attempts that will be retried
	Rejected        int64 // batches the collector refused, moved to Dir/rejected
	RefusedEvents   int64 // events the collector refused in batches it took, kept in Dir/rejected
	SpoolBytes      int64 // bytes of journal on disk (rejected batches excluded)
	Degraded        int64 // records that were counted only in memory (spool full or disk error)
	DegradedPending int64 // of those, records not yet written back to the spool as rollups
	Dropped         int64 // records given to Record after Close
	Pending         int   // sealed batches waiting to be shipped
	Unsealed        int   // records in the journal not yet sealed into a batch
}

// Meter records usage durably and ships it. Its methods are safe for
// concurrent use and on a nil *Meter.
type Meter struct {
	cfg Config
	log *zap.Logger
	now func() time.Time

	lock *os.File

	mu         sync.Mutex
	closed     bool
	cur        *segment   // open segment; nil until the next record
	spare      *segment   // the next segment, created ahead by the sealer
	full       []*segment // rotated, waiting to be sealed
	ready      []*segment // sealed, waiting to be shipped, oldest first
	run        string     // prefix of the ids of this Meter's segments
	nextSeq    uint64
	spoolBytes int64
	rollups    map[groupKey]*usageSums
	degraded   bool // counting in memory; logged once per episode
	dropLogged bool
	mapWarn    sync.Once // logs that a segment could not be mapped
	scratch    []byte    // Record's frame buffer
	stats      Stats

	sealMu     sync.Mutex // serialises sealing so batches stay in order
	sealKick   chan struct{}
	shipKick   chan struct{}
	stop       chan struct{}
	draining   bool          // under mu: shipper stops once ready is empty
	drainUntil time.Time     // under mu: Close's deadline; zero means none
	drainStart chan struct{} // closed when Close begins draining
	shipCtx    context.Context
	shipCancel context.CancelFunc
	sealerDone chan struct{}
	shipDone   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

var errSpoolFull = errors.New("metering: spool over SpoolMaxBytes")

// New validates cfg, takes the spool directory, recovers what an earlier
// process left there (cutting torn tails, sealing unsealed segments) and
// starts the sealer and, when cfg.Collector is set, the shipper.
func New(cfg Config) (*Meter, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, rejectedDir), 0o750); err != nil {
		return nil, fmt.Errorf("metering: creating spool directory: %w", err)
	}
	run, err := newRunID(cfg.Now())
	if err != nil {
		return nil, err
	}
	lock, err := dirlock.Lock(cfg.Dir, "a usage spool")
	if err != nil {
		return nil, fmt.Errorf("metering: %w", err)
	}
	m := &Meter{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        cfg.Now,
		lock:       lock,
		run:        run,
		scratch:    make([]byte, 0, 256),
		rollups:    make(map[groupKey]*usageSums),
		sealKick:   make(chan struct{}, 1),
		shipKick:   make(chan struct{}, 1),
		drainStart: make(chan struct{}),
		stop:       make(chan struct{}),
		sealerDone: make(chan struct{}),
		shipDone:   make(chan struct{}),
	}
	if err := m.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	m.shipCtx, m.shipCancel = context.WithCancel(context.Background())
	go m.sealLoop()
	kick(m.sealKick) // create the first spare segment
	if cfg.Collector != "" {
		go m.shipLoop()
	} else {
		close(m.shipDone)
	}
	return m, nil
}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("metering: Config.Dir (spool directory) is required")
	}
	if c.Collector != "" {
		u, err := url.Parse(c.Collector)
		if err != nil {
			return errors.New("metering: Config.Collector is not a URL") // the error may hold a password
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("metering: Config.Collector %q is not an http(s) URL", u.Redacted())
		}
		if strings.ContainsAny(c.Token, "\r\n") {
			return errors.New("metering: Config.Token must be one line")
		}
	}
	if c.BatchInterval < 0 || c.BatchRecords < 0 || c.BatchBytes < 0 || c.SpoolMaxBytes < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 {
		return errors.New("metering: negative interval, size or backoff in Config")
	}
	if c.Source == "" {
		c.Source = "imgedge"
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = 2 * time.Second
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 1 << 20
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = 1 << 30
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("metering: MaxBackoff %s is below MinBackoff %s", c.MaxBackoff, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// recover turns every segment on disk into a sealed batch ready to ship.
func (m *Meter) recover() error {
	ids, err := listSegments(m.cfg.Dir)
	if err != nil {
		return fmt.Errorf("metering: reading spool: %w", err)
	}
	var cutTotal int64
	for _, id := range ids {
		path := filepath.Join(m.cfg.Dir, segName(id))
		seg, torn, err := recoverSegment(id, path)
		if err != nil {
			return fmt.Errorf("metering: recovering %s: %w", path, err)
		}
		if torn > 0 {
			cutTotal += torn
			m.log.Warn("metering: cut torn tail of journal segment", zap.String("segment", path), zap.Int64("bytes", torn))
		}
		if seg == nil {
			continue
		}
		m.ready = append(m.ready, seg)
		m.spoolBytes += seg.size
	}
	if err := durable.SyncDir(m.cfg.Dir); err != nil {
		return fmt.Errorf("metering: syncing spool directory: %w", err)
	}
	if len(m.ready) > 0 {
		m.log.Info("metering: recovered spooled batches",
			zap.Int("batches", len(m.ready)), zap.Int64("bytes", m.spoolBytes), zap.Int64("cut_bytes", cutTotal))
	}
	return nil
}

// Record counts one answered request. It encodes the record (without
// allocating) and copies it into the open segment's shared mapping, or writes
// it with pwrite(2) where mapping is impossible, and returns: once it
// returns, the record survives the process being killed. It never waits
// for the network or fsync. When the spool is full or the disk fails, the
// record is summed in memory instead.
func (m *Meter) Record(r Record) {
	if m == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = m.now()
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Recorded++
	if m.closed {
		m.stats.Dropped++
		if !m.dropLogged {
			m.dropLogged = true
			m.log.Error("metering: record after Close dropped", zap.String("tenant", r.Tenant))
		}
		return
	}
	// The frame is encoded in a buffer kept for the next record: a buffer
	// on the stack would escape through the CRC-32C call.
	frame := appendRecordFrame(m.scratch[:0], &r, nil)
	m.scratch = frame[:0]
	if err := m.appendLocked(frame); err != nil {
		m.degradeLocked(&r, err)
	}
}

// appendLocked appends one frame to the open segment, opening or rotating
// segments as the batch boundaries say.
func (m *Meter) appendLocked(frame []byte) error {
	n := int64(len(frame))
	if m.spoolBytes+n > m.cfg.SpoolMaxBytes {
		return errSpoolFull
	}
	if c := m.cur; c != nil && c.count > 0 && (c.size+n > int64(m.cfg.BatchBytes) || !c.room(len(frame))) {
		m.rotateLocked()
	}
	if m.cur == nil {
		if err := m.openSegmentLocked(len(frame)); err != nil {
			return err
		}
	}
	c := m.cur
	if err := c.append(frame); err != nil {
		return err
	}
	if c.count == 0 {
		c.first = m.now()
	}
	c.size += n
	c.count++
	m.spoolBytes += n
	if (m.cfg.BatchRecords > 0 && c.count >= m.cfg.BatchRecords) || c.size >= int64(m.cfg.BatchBytes) {
		m.rotateLocked()
	}
	return nil
}

// openSegmentLocked opens the next segment, with room for at least need
// bytes: the spare one if it is ready, so that Record does not wait for
// the file system, else a new one.
func (m *Meter) openSegmentLocked(need int) error {
	if s := m.spare; s != nil && s.room(need) {
		m.spare, m.cur = nil, s
		kick(m.sealKick)
		return nil
	}
	id := segID(m.run, m.nextSeq)
	m.nextSeq++ // a name is never tried twice
	s, err := m.newSegment(id, max(m.cfg.BatchBytes, need))
	if err != nil {
		return err
	}
	m.cur = s
	return nil
}

// newSegment creates the segment id, for at least capacity bytes.
func (m *Meter) newSegment(id string, capacity int) (*segment, error) {
	s, mapErr, err := createSegment(m.cfg.Dir, id, capacity)
	if err == nil && mapErr != nil {
		m.mapWarn.Do(func() {
			m.log.Warn("metering: cannot map journal segments; writing records with pwrite(2) instead",
				zap.String("segment", s.path), zap.Error(mapErr))
		})
	}
	return s, err
}

// rotateLocked hands the open segment to the sealer.
func (m *Meter) rotateLocked() {
	if m.cur == nil {
		return
	}
	m.full = append(m.full, m.cur)
	m.cur = nil
	kick(m.sealKick)
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// sealLoop seals segments when a boundary is reached, and keeps a spare
// segment ready.
func (m *Meter) sealLoop() {
	defer close(m.sealerDone)
	every := min(max(m.cfg.BatchInterval/4, 5*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		case <-m.sealKick:
		}
		m.safely("sealer", func() {
			m.prepareSpare() // first: Record may be about to need it
			m.sealDue(false)
		})
	}
}

// prepareSpare creates the spare segment when there is none.
func (m *Meter) prepareSpare() {
	m.mu.Lock()
	if m.closed || m.spare != nil {
		m.mu.Unlock()
		return
	}
	id := segID(m.run, m.nextSeq)
	m.nextSeq++
	m.mu.Unlock()

	s, err := m.newSegment(id, m.cfg.BatchBytes)
	if err != nil {
		// Record creates the segment itself when it needs one, and counts
		// in memory if it cannot.
		return
	}
	s.prefault()
	m.mu.Lock()
	m.spare = s
	m.mu.Unlock()
}

// safely runs fn, logging instead of crashing on a panic.
func (m *Meter) safely(what string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("metering: panic recovered", zap.String("in", what), zap.Any("panic", p), zap.Stack("stack"))
		}
	}()
	fn()
}

// sealDue writes in-memory rollups back to the journal when there is room,
// rotates the open segment when its time is up (or always, with force) and
// seals every rotated segment.
func (m *Meter) sealDue(force bool) {
	m.sealMu.Lock()
	defer m.sealMu.Unlock()

	m.mu.Lock()
	m.flushRollupsLocked()
	if c := m.cur; c != nil && (force || c.count > 0 && !m.now().Before(c.first.Add(m.cfg.BatchInterval))) {
		m.rotateLocked()
	}
	full := m.full
	m.full = nil
	m.mu.Unlock()

	for _, s := range full {
		m.seal(s)
	}
}

// seal makes s immutable: its unused tail is cut and it is fsynced. Then
// it is queued for shipping; a segment without records is removed.
func (m *Meter) seal(s *segment) {
	if s.count == 0 {
		if err := s.discard(); err != nil {
			m.log.Error("metering: removing empty segment", zap.String("segment", s.path), zap.Error(err))
		}
		return
	}
	if err := s.finish(); err != nil {
		// The records are in the page cache and are shipped all the
		// same; a restart fsyncs the segment again.
		m.log.Error("metering: sealing batch", zap.String("segment", s.path), zap.Error(err))
	}
	if err := durable.SyncDir(m.cfg.Dir); err != nil {
		m.log.Error("metering: syncing spool directory", zap.Error(err))
	}
	m.mu.Lock()
	m.ready = append(m.ready, s)
	m.stats.Sealed++
	m.mu.Unlock()
	kick(m.shipKick)
}

// Stats returns the meter's counters.
func (m *Meter) Stats() Stats {
	if m == nil {
		return Stats{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.SpoolBytes = m.spoolBytes
	s.Pending = len(m.ready)
	if m.cur != nil {
		s.Unsealed += m.cur.count
	}
	for _, f := range m.full {
		s.Unsealed += f.count
	}
	return s
}

// Close seals pending records, ships what it can until ctx is done and
// leaves the rest consistent on disk for the next New. A failed batch is
// retried only while the retry fits before ctx's deadline, so without a
// deadline Close tries each batch once. Records given to Record after Close
// are dropped (and counted). Close is idempotent.
func (m *Meter) Close(ctx context.Context) error {
	if m == nil {
		return nil
	}
	m.closeOnce.Do(func() { m.closeErr = m.close(ctx) })
	return m.closeErr
}

func (m *Meter) close(ctx context.Context) error {
	close(m.stop)
	<-m.sealerDone

	m.mu.Lock()
	m.closed = true
	spare := m.spare
	m.spare = nil
	m.mu.Unlock()
	if spare != nil {
		if err := spare.discard(); err != nil {
			m.log.Error("metering: removing spare segment", zap.String("segment", spare.path), zap.Error(err))
		}
	}
	m.sealDue(true)

	m.mu.Lock()
	m.draining = true
	m.drainUntil, _ = ctx.Deadline()
	m.mu.Unlock()
	close(m.drainStart)
	kick(m.shipKick)
	select {
	case <-m.shipDone:
	case <-ctx.Done():
		m.shipCancel()
		<-m.shipDone
	}
	m.shipCancel()

	m.mu.Lock()
	left, lost := len(m.ready), m.stats.DegradedPending
	m.mu.Unlock()
	if left > 0 && m.cfg.Collector != "" {
		m.log.Info("metering: batches left in the spool for the next start", zap.Int("batches", left))
	}
	var err error
	if lost > 0 {
		err = fmt.Errorf("metering: usage of %d requests was only in memory and is lost", lost)
		m.log.Error("metering: in-memory usage could not be written to the spool", zap.Int64("requests", lost))
	}
	if cerr := m.lock.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
