package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// runSpec is one measured load: HTTP requests driven by vegeta at a fixed
// concurrency, or the in-process pipeline in a loop. Every run of every
// scenario goes through the same runner.
type runSpec struct {
	Name    string
	Ref     string // the run of the same scenario this one is compared with
	Workers int    // requests (or operations) in flight
	About   string // what is asked for, for the report

	target func(i uint64) vegeta.Target // HTTP: the i-th request
	op     func() ([]byte, error)       // in-process: one operation

	// count, when set, makes the run a soak: exactly this many requests,
	// no warm-up, and the RSS trend is reported.
	count uint64
	// limit, when set, is the run's length instead of -duration (no
	// warm-up either).
	limit time.Duration
	// expect is the Cache-Status class every answer should have ("hit",
	// "miss", "none"); others are counted as unexpected.
	expect string
	// pid, when set, is the process whose CPU and RSS the run measures
	// (default: the main caddy).
	pid int
	// group names the runs an alternating scenario measures together.
	group string
	// cpuOf names the process pid is, for the report (default: caddy).
	cpuOf string
	// before and after, when set, run around the measured window (after
	// the warm-up); after may annotate the result.
	before func()
	after  func(*runResult)
	// setup, when set, runs first of all, before the measured process is
	// chosen (it may restart it); pidOf, when set, names that process
	// after setup.
	setup func()
	pidOf func() int
}

// sample is one finished request or operation.
type sample struct {
	latency time.Duration
	code    int // HTTP status; 200 for a successful operation, 0 for none
	bytes   int
	cache   string // Cache-Status class
	err     string
}

// recorder collects samples from concurrent workers.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

// runner measures runs against one caddy process.
type runner struct {
	ctx              context.Context
	caddyPID         int
	duration, warmup time.Duration // of each fixed-length run
	soakTimeout      time.Duration // the most a soak may take
	requestTimeout   time.Duration
}

// measure warms up, then runs spec while reading the process's CPU time
// and RSS: caddy's for HTTP runs, this program's for in-process ones.
func (r *runner) measure(spec runSpec) (*runResult, error) {
	if spec.setup != nil {
		spec.setup()
	}
	pid := r.caddyPID
	switch {
	case spec.op != nil:
		pid = os.Getpid()
	case spec.pidOf != nil:
		pid = spec.pidOf()
	case spec.pid != 0:
		pid = spec.pid
	}
	limit := r.duration
	switch {
	case spec.count > 0:
		limit = r.soakTimeout
	case spec.limit > 0:
		limit = spec.limit
	case r.warmup > 0:
		r.drive(spec, r.warmup, &recorder{})
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	if spec.before != nil {
		spec.before()
	}
	rss := startSampler(pid)
	rec := &recorder{}
	began := time.Now()
	r.drive(spec, limit, rec)
	elapsed := time.Since(began)
	samples := rss.stop()
	cpu1, err := procCPU(pid)
	if err != nil {
		return nil, fmt.Errorf("%s: the measured process is gone: %v", spec.Name, err)
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	res := summarize(spec, rec.samples, elapsed, cpu1-cpu0, samples)
	if spec.after != nil {
		spec.after(res)
	}
	return res, nil
}

// measureAlternating measures specs side by side: after a warm-up of
// each, rounds slices of duration/rounds each, the specs taking turns, so
// that the machine's drift (other tenants, thermal state) falls on all of
// them alike. Each result sums its slices.
func (r *runner) measureAlternating(specs []runSpec, rounds int) ([]*runResult, error) {
	type acc struct {
		rec     recorder
		elapsed time.Duration
		cpu     time.Duration
		rss     []rssSample
		slices  []float64 // 2xx answers per second in each slice
	}
	accs := make([]acc, len(specs))
	pidOf := func(spec runSpec) int {
		if spec.pid != 0 {
			return spec.pid
		}
		return r.caddyPID
	}
	if r.warmup > 0 {
		for _, spec := range specs {
			r.drive(spec, r.warmup, &recorder{})
		}
	}
	slice := r.duration / time.Duration(rounds)
	for range rounds {
		for i, spec := range specs {
			if err := r.ctx.Err(); err != nil {
				return nil, err
			}
			cpu0, err := procCPU(pidOf(spec))
			if err != nil {
				return nil, fmt.Errorf("%s: %v", spec.Name, err)
			}
			rss := startSampler(pidOf(spec))
			began := time.Now()
			had := len(accs[i].rec.samples)
			r.drive(spec, slice, &accs[i].rec)
			took := time.Since(began)
			accs[i].elapsed += took
			accs[i].slices = append(accs[i].slices, float64(succeeded(accs[i].rec.samples[had:]))/took.Seconds())
			accs[i].rss = append(accs[i].rss, rss.stop()...)
			cpu1, err := procCPU(pidOf(spec))
			if err != nil {
				return nil, fmt.Errorf("%s: the measured process is gone: %v", spec.Name, err)
			}
			accs[i].cpu += cpu1 - cpu0
		}
	}
	results := make([]*runResult, len(specs))
	for i, spec := range specs {
		results[i] = summarize(spec, accs[i].rec.samples, accs[i].elapsed, accs[i].cpu, accs[i].rss)
		results[i].SliceRPS = accs[i].slices
		if spec.after != nil {
			spec.after(results[i])
		}
	}
	return results, nil
}

// drive runs spec for at most limit (and at most spec.count requests).
func (r *runner) drive(spec runSpec, limit time.Duration, rec *recorder) {
	if spec.op != nil {
		loop(r.ctx, spec.Workers, limit, spec.op, rec)
		return
	}
	r.attack(spec, limit, rec)
}

// attack drives HTTP requests with vegeta: Workers requests in flight at
// all times (a fixed worker pool, no rate limit), for limit or until
// spec.count requests were sent.
func (r *runner) attack(spec runSpec, limit time.Duration, rec *recorder) {
	var next atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		*t = spec.target(next.Add(1) - 1)
		return nil
	}
	var pacer vegeta.Pacer = vegeta.Rate{Freq: 0} // as fast as the workers go
	if spec.count > 0 {
		pacer = countPacer(spec.count)
	}
	w := uint64(spec.Workers)
	a := vegeta.NewAttacker(vegeta.Workers(w), vegeta.MaxWorkers(w), vegeta.Connections(spec.Workers),
		vegeta.Timeout(r.requestTimeout), vegeta.KeepAlive(true))
	stop := context.AfterFunc(r.ctx, func() { a.Stop() })
	defer stop()
	for res := range a.Attack(targeter, pacer, limit, spec.Name) {
		rec.add(sample{
			latency: res.Latency,
			code:    int(res.Code),
			bytes:   int(res.BytesIn),
			cache:   cacheClass(res.Headers.Get("Cache-Status")),
			err:     res.Error,
		})
	}
}

// countPacer sends requests as fast as the workers go and stops after
// that many.
type countPacer uint64

func (n countPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	return 0, hits >= uint64(n)
}

// Rate is unbounded.
func (countPacer) Rate(time.Duration) float64 { return math.Inf(1) }

// loop runs op in workers goroutines until limit has passed.
func loop(ctx context.Context, workers int, limit time.Duration, op func() ([]byte, error), rec *recorder) {
	deadline := time.Now().Add(limit)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				began := time.Now()
				body, err := op()
				s := sample{latency: time.Since(began), code: 200, bytes: len(body), cache: "none"}
				if err != nil {
					s.code, s.err = 0, err.Error()
				}
				rec.add(s)
			}
		})
	}
	wg.Wait()
}

// cacheClass sorts imgedge's Cache-Status into hit, miss and collapsed
// (a miss that waited for an identical one); none when the header is absent.
func cacheClass(h string) string {
	switch {
	case h == "":
		return "none"
	case strings.Contains(h, "detail=collapsed"):
		return "collapsed"
	case strings.HasPrefix(h, "imgedge; hit"):
		return "hit"
	}
	return "miss"
}

// runResult is what one run measured.
type runResult struct {
	Name          string             `json:"name"`
	Ref           string             `json:"reference,omitempty"`
	About         string             `json:"about"`
	Workers       int                `json:"concurrency"`
	Seconds       float64            `json:"seconds"`
	Requests      int                `json:"requests"`
	OK            int                `json:"ok"`
	Errors        int                `json:"errors"` // non-2xx answers and transport errors
	StatusCodes   map[string]int     `json:"status_codes"`
	ErrorSamples  []string           `json:"error_samples,omitempty"`
	CacheStatus   map[string]int     `json:"cache_status"`
	Unexpected    int                `json:"unexpected_cache_status"`
	RPS           float64            `json:"req_per_s"`                 // 2xx answers per second
	SliceRPS      []float64          `json:"slice_req_per_s,omitempty"` // alternating runs: RPS in each slice
	P50           float64            `json:"p50_ms"`
	P90           float64            `json:"p90_ms"`
	P99           float64            `json:"p99_ms"`
	Max           float64            `json:"max_ms"`
	CPUPerReq     float64            `json:"cpu_ms_per_req"`
	CPUProcess    string             `json:"cpu_of"`
	PeakRSS       float64            `json:"peak_rss_mb"`
	MeanOutBytes  float64            `json:"mean_out_bytes"`
	RSSSlope      *float64           `json:"rss_slope_mb_per_min,omitempty"` // soaks: over the second half
	RSS           []rssSample        `json:"rss,omitempty"`
	Ratios        map[string]float64 `json:"ratios,omitempty"` // this run over its reference
	Percentiles   [][2]float64       `json:"latency_percentiles"`
	Note          string             `json:"note,omitempty"`
	latencies     []time.Duration
	soak          bool
	expectedCache string
}

func summarize(spec runSpec, samples []sample, elapsed, cpu time.Duration, rss []rssSample) *runResult {
	r := &runResult{
		Name: spec.Name, Ref: spec.Ref, About: spec.About, Workers: spec.Workers,
		Seconds: elapsed.Seconds(), Requests: len(samples), RSS: rss, PeakRSS: peakMB(rss),
		StatusCodes: map[string]int{}, CacheStatus: map[string]int{},
		CPUProcess: "caddy", soak: spec.count > 0, expectedCache: spec.expect,
	}
	if spec.op != nil {
		r.CPUProcess = "bench (in-process)"
	}
	if spec.cpuOf != "" {
		r.CPUProcess = spec.cpuOf
	}
	var outBytes int
	for _, s := range samples {
		r.StatusCodes[fmt.Sprint(s.code)]++
		r.CacheStatus[s.cache]++
		if spec.expect != "" && s.cache != spec.expect {
			r.Unexpected++
		}
		if s.code/100 != 2 {
			r.Errors++
			if s.err != "" && len(r.ErrorSamples) < 5 && !slices.Contains(r.ErrorSamples, s.err) {
				r.ErrorSamples = append(r.ErrorSamples, s.err)
			}
			continue
		}
		r.OK++
		outBytes += s.bytes
		r.latencies = append(r.latencies, s.latency)
	}
	slices.Sort(r.latencies)
	if r.OK > 0 {
		r.RPS = float64(r.OK) / elapsed.Seconds()
		r.MeanOutBytes = float64(outBytes) / float64(r.OK)
	}
	if r.Requests > 0 {
		r.CPUPerReq = ms(cpu) / float64(r.Requests)
	}
	r.P50, r.P90, r.P99 = r.quantile(0.50), r.quantile(0.90), r.quantile(0.99)
	r.Max = r.quantile(1)
	r.Percentiles = r.curve()
	if r.soak {
		slope := slopeMBPerMin(rss)
		r.RSSSlope = &slope
	} else {
		r.RSS = nil // the peak says enough for fixed-duration runs
	}
	return r
}

// quantile is the latency (ms) at or below which a fraction q of the
// successful requests finished.
func (r *runResult) quantile(q float64) float64 {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := max(int(math.Ceil(q*float64(n)))-1, 0)
	return ms(r.latencies[min(i, n-1)])
}

// curve samples the latency distribution on the "nines" scale that HDR
// histograms are drawn on: x = log10(1/(1-q)), from q=0 to q=0.999.
func (r *runResult) curve() [][2]float64 {
	var pts [][2]float64
	for x := 0.0; x <= 3.0001; x += 0.05 {
		q := 1 - math.Pow(10, -x)
		pts = append(pts, [2]float64{math.Round(q*1e5) / 1e3, r.quantile(q)})
	}
	return pts
}

// compare fills in the ratios of a run over its reference.
func (r *runResult) compare(ref *runResult) {
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	r.Ratios = map[string]float64{
		"req_per_s":   ratio(r.RPS, ref.RPS),
		"p99":         ratio(r.P99, ref.P99),
		"cpu_per_req": ratio(r.CPUPerReq, ref.CPUPerReq),
		"out_bytes":   ratio(r.MeanOutBytes, ref.MeanOutBytes),
	}
	// Alternating runs: the median of the slices' ratios, each slice next
	// to its reference's of the same round, which drift on a shared
	// machine moves less than the sums.
	if n := len(r.SliceRPS); n > 0 && n == len(ref.SliceRPS) {
		each := make([]float64, n)
		for k := range n {
			each[k] = ratio(r.SliceRPS[k], ref.SliceRPS[k])
		}
		slices.Sort(each)
		r.Ratios["slice_median"] = (each[(n-1)/2] + each[n/2]) / 2
	}
}

// succeeded counts the 2xx answers among samples.
func succeeded(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.code >= 200 && s.code < 300 {
			n++
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
