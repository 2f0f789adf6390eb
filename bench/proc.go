package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// Linux fixes it at 100 for user space on every architecture Go runs on.
const clockTick = 10 * time.Millisecond

// procCPU is the user plus system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses; fields after the
	// last ')' start with field 3 (state). utime and stime are 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// procRSS is a process's resident set size in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// rssSample is one RSS reading, Seconds after the run began.
type rssSample struct {
	Seconds float64 `json:"s"`
	MB      float64 `json:"mb"`
}

// sampler reads a process's RSS every second until stopped.
type sampler struct {
	pid     int
	began   time.Time
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	samples []rssSample
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, began: time.Now(), done: make(chan struct{})}
	s.read()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.read()
			}
		}
	}()
	return s
}

func (s *sampler) read() {
	rss, err := procRSS(s.pid)
	if err != nil {
		return // the process is gone; the run reports its errors
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, rssSample{time.Since(s.began).Seconds(), float64(rss) / (1 << 20)})
}

// stop takes a last reading and returns them all.
func (s *sampler) stop() []rssSample {
	close(s.done)
	s.wg.Wait()
	s.read()
	return s.samples
}

// peakMB is the largest reading.
func peakMB(samples []rssSample) float64 {
	peak := 0.0
	for _, s := range samples {
		peak = max(peak, s.MB)
	}
	return peak
}

// slopeMBPerMin fits a least-squares line through the readings of the
// second half of the run and returns its slope.
func slopeMBPerMin(samples []rssSample) float64 {
	if len(samples) == 0 {
		return 0
	}
	half := samples[len(samples)-1].Seconds / 2
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		if s.Seconds < half {
			continue
		}
		x := s.Seconds / 60
		n++
		sx += x
		sy += s.MB
		sxx += x * x
		sxy += x * s.MB
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}
