package metering

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	segPrefix   = "seg-"
	segSuffix   = ".jnl"
	rejectedDir = "rejected"
)

// segment is one journal file. While it is open (f != nil) records are
// appended to it; once sealed it is one batch, identified by batch.
type segment struct {
	seq   uint64
	path  string
	f     *os.File
	size  int64     // bytes of valid frames
	count int       // event frames
	first time.Time // clock time of the first record, for the time boundary
	batch string    // set when sealed
}

// sealBody is the JSON body of a seal frame.
type sealBody struct {
	Batch string `json:"batch"`
	Count int    `json:"count"`
}

func segName(seq uint64) string { return fmt.Sprintf("%s%016x%s", segPrefix, seq, segSuffix) }

// listSegments returns the sequence numbers of the segments in dir, oldest
// first.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 16, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// writeSeal appends the seal frame of a new batch to f and fsyncs f.
func writeSeal(f *os.File, count int) (batch string, n int, err error) {
	batch = newEventID()
	body, err := json.Marshal(sealBody{Batch: batch, Count: count})
	if err != nil {
		return "", 0, err
	}
	n, err = f.Write(appendFrame(nil, kindSeal, body))
	if err != nil {
		return "", n, err
	}
	return batch, n, f.Sync()
}

// recoverSegment makes the segment at path a consistent sealed batch: it cuts
// everything after the last valid frame and seals the segment when the last
// valid frame is not a seal. A segment without events is removed and nil is
// returned. cut is the number of bytes cut off.
func recoverSegment(seq uint64, path string) (seg *segment, cut int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	var (
		count    int
		lastKind byte
		batch    string
	)
	valid := scanFrames(data, func(kind byte, body []byte) {
		lastKind = kind
		switch kind {
		case kindEvent:
			count++
		case kindSeal:
			var s sealBody
			if json.Unmarshal(body, &s) == nil {
				batch = s.Batch
			}
		}
	})
	cut = int64(len(data) - valid)
	if count == 0 {
		return nil, cut, os.Remove(path)
	}
	seg = &segment{seq: seq, path: path, size: int64(valid), count: count}
	if cut == 0 && lastKind == kindSeal && batch != "" {
		seg.batch = batch
		return seg, 0, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, cut, err
	}
	defer f.Close()
	if cut > 0 {
		if err := f.Truncate(int64(valid)); err != nil {
			return nil, cut, err
		}
	}
	if lastKind == kindSeal && batch != "" {
		seg.batch = batch
		return seg, cut, f.Sync()
	}
	batch, n, err := writeSeal(f, count)
	if err != nil {
		return nil, cut, err
	}
	seg.batch = batch
	seg.size += int64(n)
	return seg, cut, nil
}

// readBatch returns the JSON of the events of a sealed segment.
func readBatch(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var events [][]byte
	scanFrames(data, func(kind byte, body []byte) {
		if kind == kindEvent && len(body) > 2 && body[0] == '{' {
			events = append(events, body)
		}
	})
	return events, nil
}

// batchBody renders events as a CloudEvents JSON batch, adding the batch id
// to each event.
func batchBody(batch string, events [][]byte) []byte {
	n := 2
	for _, e := range events {
		n += len(e) + len(batch) + 20
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"imgedgebatch":`...)
		b = strconv.AppendQuote(b, batch)
		b = append(b, ',')
		b = append(b, e[1:]...)
	}
	return append(b, ']')
}

// syncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func rejectedPath(dir, segPath string) string {
	return filepath.Join(dir, rejectedDir, filepath.Base(segPath))
}
