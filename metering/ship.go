package metering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/imgedge/imgedge/internal/durable"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// maxRetryAfter bounds how long a collector's Retry-After can park a batch.
const maxRetryAfter = time.Hour

// shipLoop ships sealed batches, oldest first, until the meter is closed.
func (m *Meter) shipLoop() {
	defer close(m.shipDone)
	for {
		s := m.nextReady()
		if s == nil {
			return
		}
		stop := false
		m.safely("shipper", func() { stop = !m.ship(s) })
		if stop {
			return
		}
	}
}

// nextReady waits for the oldest sealed batch. It returns nil when the
// shipper must stop: cancelled, or draining with nothing left.
func (m *Meter) nextReady() *segment {
	for {
		if m.shipCtx.Err() != nil {
			return nil
		}
		m.mu.Lock()
		if len(m.ready) > 0 {
			s := m.ready[0]
			m.mu.Unlock()
			return s
		}
		draining := m.draining
		m.mu.Unlock()
		if draining {
			return nil
		}
		select {
		case <-m.shipCtx.Done():
			return nil
		case <-m.shipKick:
		}
	}
}

// maxPostBytes bounds the body of one POST. A segment whose events do not
// fit is sent in several; it is acknowledged once all of them are.
var maxPostBytes = 4 << 20 // a variable for tests

// maxPostEvents bounds the events of one POST, well under the collector's
// default bound (DefaultMaxEvents): a rollup split up adds events, and a
// batch over the collector's bound would be refused whole.
const maxPostEvents = 1000

// batch is a sealed segment rendered for the collector.
type batch struct {
	parts    [][]byte // CloudEvents JSON batches
	events   int
	requests int64
}

// ship sends one batch until the collector acknowledges or refuses it. It
// returns false when the shipper must stop: cancelled, or Close is draining
// and the next retry would not fit before its deadline.
func (m *Meter) ship(s *segment) bool {
	var (
		b    *batch
		sent int // parts acknowledged
	)
	for attempt := 0; ; attempt++ {
		var (
			err        error
			status     int
			retryAfter time.Duration
			hasRA      bool
		)
		if b == nil {
			var data []byte
			data, err = os.ReadFile(s.path)
			switch {
			case os.IsNotExist(err):
				m.log.Error("metering: spooled batch vanished", zap.String("segment", s.path))
				m.done(s, nil, false)
				return true
			case err == nil:
				b = m.render(s, data)
			}
		}
		for b != nil && sent < len(b.parts) {
			var (
				snippet string
				answer  []byte
			)
			status, retryAfter, hasRA, answer, err = m.post(b.parts[sent])
			snippet = strings.TrimSpace(string(answer[:min(len(answer), 512)]))
			if err == nil && status/100 == 2 {
				m.keepRefused(s, sent, b.parts[sent], answer)
				sent++
				attempt = 0
				continue
			}
			if err == nil && !retryable(status) {
				m.reject(s, status, snippet)
				return true
			}
			switch {
			case err == nil && (status == http.StatusUnauthorized || status == http.StatusForbidden):
				m.log.Error("metering: the collector refuses this edge's credentials (metering token, or user and password in the collector URL); retrying",
					zap.String("batch", s.id), zap.Int("status", status), zap.String("response", snippet))
			case err == nil:
				m.log.Warn("metering: collector refused batch for now, retrying",
					zap.String("batch", s.id), zap.Int("status", status), zap.String("response", snippet))
			}
			break
		}
		if b != nil && sent == len(b.parts) {
			m.done(s, b, true)
			return true
		}
		if m.shipCtx.Err() != nil {
			return false
		}
		if err != nil {
			m.log.Warn("metering: shipping batch failed, retrying", zap.String("batch", s.id), zap.Error(err))
		}
		d := backoffDelay(attempt, m.cfg.MinBackoff, m.cfg.MaxBackoff, retryAfter, hasRA, rand.Int64N)
		m.mu.Lock()
		m.stats.Retries++
		m.mu.Unlock()
		if !m.wait(d) {
			return false
		}
	}
}

// render folds the records of segment s (its file's data) into rollup
// events and renders them as CloudEvents JSON batches.
func (m *Meter) render(s *segment, data []byte) *batch {
	u := aggregate(data)
	if u.bad > 0 {
		m.log.Error("metering: journal records that do not decode; shipping the rest of the batch",
			zap.String("segment", s.path), zap.Int("records", u.bad))
	}
	b := &batch{}
	body := []byte{'['}
	inBody := 0
	add := func(ev []byte) {
		if len(body) > 1 && (len(body)+len(ev)+2 > maxPostBytes || inBody == maxPostEvents) {
			b.parts = append(b.parts, append(body, ']'))
			body, inBody = []byte{'['}, 0
		}
		inBody++
		if len(body) > 1 {
			body = append(body, ',')
		}
		body = append(body, ev...)
		b.events++
	}
	for _, r := range u.rollups {
		evs, held := r.events(m.cfg.Source, s.id)
		if held {
			m.log.Error("metering: usage of a group over the per-event maxima even split up; sending it held at them",
				zap.String("segment", s.path), zap.String("tenant", r.key.tenant), zap.Int64("requests", r.requests),
				zap.Int64("source_bytes", r.sourceBytes), zap.Int64("output_bytes", r.outputBytes),
				zap.Int64("output_pixels", r.outputPixels), zap.Duration("cpu", time.Duration(r.cpuNs)),
				zap.Duration("wall", time.Duration(r.wallNs)))
		}
		for i := range evs {
			j, err := json.Marshal(&evs[i])
			if err != nil { // cannot happen: the event has no unencodable values
				m.log.Error("metering: encoding rollup event", zap.String("segment", s.path), zap.Error(err))
				continue
			}
			add(j)
			b.requests += evs[i].Data.Requests
		}
	}
	for _, e := range u.legacy {
		// A request event of an older version: add the batch id.
		j := append([]byte(`{"imgedgebatch":`), strconv.Quote(s.id)...)
		add(append(append(j, ','), e[1:]...))
		b.requests++
	}
	if len(body) > 1 {
		b.parts = append(b.parts, append(body, ']'))
	}
	return b
}

// wait sleeps d before a retry. It returns false when the shipper must
// stop instead: cancelled, or Close began draining and the wait ends after
// its deadline.
func (m *Meter) wait(d time.Duration) bool {
	wake := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	drain := m.drainStart
	for {
		select {
		case <-m.shipCtx.Done():
			return false
		case <-t.C:
			return true
		case <-drain:
			drain = nil
			m.mu.Lock()
			until := m.drainUntil
			m.mu.Unlock()
			if until.IsZero() || wake.After(until) {
				return false
			}
		}
	}
}

// maxAnswer bounds how much of the collector's answer is read: enough for
// the refusals of a batch's events.
const maxAnswer = 1 << 20

// post sends one batch body and reports the collector's answer: its
// status, Retry-After and body (up to maxAnswer bytes).
func (m *Meter) post(body []byte) (status int, retryAfter time.Duration, hasRA bool, answer []byte, err error) {
	req, err := http.NewRequestWithContext(m.shipCtx, http.MethodPost, m.cfg.Collector, bytes.NewReader(body))
	if err != nil {
		return 0, 0, false, nil, err
	}
	req.Header.Set("Content-Type", BatchContentType)
	if m.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+m.cfg.Token)
	} else if u := req.URL.User; u != nil {
		// http.Client does this too; done here so it does not depend on the
		// client a caller passes in.
		pass, _ := u.Password()
		req.SetBasicAuth(u.Username(), pass)
	}
	resp, err := m.cfg.Client.Do(req)
	if err != nil {
		return 0, 0, false, nil, err
	}
	defer resp.Body.Close()
	answer, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	retryAfter, hasRA = parseRetryAfter(resp.Header.Get("Retry-After"), m.now())
	return resp.StatusCode, retryAfter, hasRA, answer, nil
}

// keepRefused handles the events of an acknowledged part that the
// collector refused (its answer's "refused" list): they cannot succeed on
// a retry, so they are logged and written, as a CloudEvents batch of their
// own, to Dir/rejected/<segment>.<part>.refused.json for a person to look
// at. The events the collector took are not affected.
func (m *Meter) keepRefused(s *segment, part int, body, answer []byte) {
	var res IngestResult
	if json.Unmarshal(answer, &res) != nil || len(res.Refused) == 0 {
		return
	}
	var events []json.RawMessage
	if err := json.Unmarshal(body, &events); err != nil { // cannot happen: render wrote it
		m.log.Error("metering: reading back a shipped batch", zap.String("segment", s.path), zap.Error(err))
		return
	}
	var kept []json.RawMessage
	for _, r := range res.Refused {
		if r.Event >= 0 && r.Event < len(events) {
			kept = append(kept, events[r.Event])
		}
	}
	to := rejectedPath(m.cfg.Dir, s.path) + fmt.Sprintf(".%d.refused.json", part)
	data, err := json.Marshal(kept)
	if err == nil {
		err = durable.WriteFile(to, data)
	}
	m.log.Error("metering: collector refused events of a batch it took; kept them aside",
		zap.String("batch", s.id), zap.Int("refused", len(res.Refused)), zap.Int("event", res.Refused[0].Event),
		zap.String("reason", res.Refused[0].Error), zap.String("kept_in", to), zap.NamedError("write_error", err))
	m.mu.Lock()
	m.stats.RefusedEvents += int64(len(res.Refused))
	m.mu.Unlock()
}

// retryable reports whether a non-2xx status is worth another try. 401
// and 403 are: the batch is fine, the edge's credentials are not, and once
// they are fixed (or the collector's auth is) the spool drains by itself
// instead of every batch going to rejected/.
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return status >= 500
}

// done removes a batch from the queue; with remove, its file is deleted,
// which is the acknowledgement. b is what was shipped, if anything.
func (m *Meter) done(s *segment, b *batch, remove bool) {
	if remove {
		if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
			m.log.Error("metering: removing shipped batch; it will be sent again after a restart",
				zap.String("segment", s.path), zap.Error(err))
		} else if err := durable.SyncDir(m.cfg.Dir); err != nil {
			m.log.Error("metering: syncing spool directory", zap.Error(err))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.popReadyLocked(s)
	if b != nil && b.events > 0 {
		m.stats.ShippedBatches++
		m.stats.ShippedEvents += int64(b.events)
		m.stats.ShippedRequests += b.requests
	}
}

// reject moves a batch the collector refused to Dir/rejected.
func (m *Meter) reject(s *segment, status int, snippet string) {
	to := rejectedPath(m.cfg.Dir, s.path)
	err := os.Rename(s.path, to)
	if err == nil {
		err = durable.SyncDir(filepath.Dir(to))
	}
	if err == nil {
		err = durable.SyncDir(m.cfg.Dir)
	}
	m.log.Error("metering: collector rejected batch; moved aside",
		zap.String("batch", s.id), zap.Int("status", status), zap.String("response", snippet),
		zap.String("moved_to", to), zap.NamedError("move_error", err))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.popReadyLocked(s)
	m.stats.Rejected++
}

func (m *Meter) popReadyLocked(s *segment) {
	for i, r := range m.ready {
		if r == s {
			m.ready = append(m.ready[:i], m.ready[i+1:]...)
			m.spoolBytes -= s.size
			return
		}
	}
}

// backoffDelay is the wait before retry number attempt (0 for the first):
// the collector's Retry-After when it sent one (at most maxRetryAfter),
// otherwise full jitter, a uniform draw from [0, min(max, min*2^attempt)].
// rnd(n) returns a value in [0, n).
func backoffDelay(attempt int, lo, hi, retryAfter time.Duration, hasRA bool, rnd func(int64) int64) time.Duration {
	if hasRA {
		return min(max(retryAfter, 0), maxRetryAfter)
	}
	ceil := lo
	for i := 0; i < attempt && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rnd(int64(ceil) + 1))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
