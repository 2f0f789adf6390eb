package metering

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// pageSize is the granularity of page faults; smaller than the real page
// size is harmless.
const pageSize = 4096

const (
	segPrefix   = "seg-"
	segSuffix   = ".jnl"
	rejectedDir = "rejected"
)

// segment is one journal file. While it is open (f != nil) records are
// appended to it, through its shared mapping when mem is set, else with
// pwrite(2). Once sealed it is immutable and is one batch.
type segment struct {
	id    string // the name without prefix and suffix: batch id, prefix of event ids
	path  string
	f     *os.File
	mem   []byte    // shared writable mapping of the preallocated file; nil: pwrite
	size  int64     // bytes of valid frames
	count int       // frames (records)
	first time.Time // clock time of the first record, for the time boundary
}

// newRunID returns the prefix of the names of the segments a Meter creates:
// the start time in Unix milliseconds, so names sort by age across
// restarts, and 64 random bits, so no name is ever used twice, whatever
// was deleted, restored or copied in the spool directory meanwhile.
func newRunID(now time.Time) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("metering: drawing a spool run id: %w", err)
	}
	return fmt.Sprintf("%012x-%016x", max(now.UnixMilli(), 0), binary.BigEndian.Uint64(b[:])), nil
}

// segID is the id of segment seq of a run.
func segID(run string, seq uint64) string { return fmt.Sprintf("%s-%08x", run, seq) }

func segName(id string) string { return segPrefix + id + segSuffix }

// listSegments returns the ids of the segments in dir, oldest first. It
// also lists the segments of older versions, named seg-<16 hex digits>.jnl.
func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		id := strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix)
		if id == "" || strings.Trim(id, "0123456789abcdef-") != "" {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// createSegment creates the file of a new segment for at least capacity
// bytes of frames. It preallocates and maps the file when it can, so that
// appending a record is a memcpy; when it cannot, mapErr says why and
// records are written with pwrite(2). err is set only when there is no
// segment: the file could not be created, or the disk is full.
func createSegment(dir, id string, capacity int) (s *segment, mapErr, err error) {
	path := filepath.Join(dir, segName(id))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
	if err != nil {
		return nil, nil, err
	}
	s = &segment{id: id, path: path, f: f}
	s.mem, mapErr = mapSegment(f, capacity)
	if errors.Is(mapErr, syscall.ENOSPC) {
		f.Close()
		os.Remove(path)
		return nil, nil, mapErr
	}
	return s, mapErr, nil
}

// room reports whether a frame of n bytes fits in s.
func (s *segment) room(n int) bool {
	return s.mem == nil || int64(n) <= int64(len(s.mem))-s.size
}

// prefault takes the page faults of a mapped segment now, so that Record
// does not: the first store to each page of a shared file mapping faults
// into the file system, which costs microseconds. Storing a zero over a
// zero changes nothing in the file.
func (s *segment) prefault() {
	for off := 0; off < len(s.mem); off += pageSize {
		s.mem[off] = 0
	}
}

// append writes frame after the last frame of s. The caller counts it.
func (s *segment) append(frame []byte) error {
	if s.mem != nil {
		// A store to a shared file mapping is in the page cache at once:
		// it survives the process being killed. A kill mid-copy leaves a
		// frame whose checksum fails, which recovery cuts.
		copy(s.mem[s.size:], frame)
		return nil
	}
	// After a failed or short write the next frame goes to the same
	// offset, and sealing cuts the file at the last counted frame, so a
	// partial frame never stands in front of a later one.
	_, err := s.f.WriteAt(frame, s.size)
	return err
}

// finish seals s: it unmaps the file, cuts the unused preallocated tail,
// fsyncs and closes it. The frames are in the page cache either way; an
// error only means they are not known to be on the disk yet.
func (s *segment) finish() error {
	var err error
	if s.mem != nil {
		err = unmapSegment(s.mem)
		s.mem = nil
		err = errors.Join(err, s.f.Truncate(s.size))
	}
	err = errors.Join(err, s.f.Sync(), s.f.Close())
	s.f = nil
	return err
}

// discard closes and removes a segment without records.
func (s *segment) discard() error {
	if s.mem != nil {
		unmapSegment(s.mem)
		s.mem = nil
	}
	s.f.Close()
	s.f = nil
	return os.Remove(s.path)
}

// recoverSegment makes the segment at path a sealed one: it keeps the
// frames up to the first invalid one (a zero length, where a preallocated
// segment was never written, or a frame torn by a crash), cuts the rest and
// fsyncs the file. A segment without frames is removed and nil returned.
// torn is the number of bytes cut that were not zero.
func recoverSegment(id, path string) (seg *segment, torn int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	count := 0
	valid := scanFrames(data, func(kind byte, body []byte) {
		if kind != kindSeal {
			count++
		}
	})
	rest := data[valid:]
	torn = int64(len(bytes.TrimRight(rest, "\x00")))
	if count == 0 {
		return nil, torn, os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, torn, err
	}
	defer f.Close()
	if len(rest) > 0 {
		if err := f.Truncate(int64(valid)); err != nil {
			return nil, torn, err
		}
	}
	if err := f.Sync(); err != nil {
		return nil, torn, err
	}
	return &segment{id: id, path: path, size: int64(valid), count: count}, torn, f.Close()
}

func rejectedPath(dir, segPath string) string {
	return filepath.Join(dir, rejectedDir, filepath.Base(segPath))
}
