package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/imgedge/imgedge/imaging"
)

// scenario is a subject measured side by side with its references.
type scenario struct {
	ID, Name string
	Runs     []runSpec
	// Alternate, when set, measures the runs of each group (consecutive
	// runs with the same group) in that many alternating slices.
	Alternate int
}

// groups splits the runs into what is measured together: consecutive
// runs of one group when the scenario alternates, else one run each.
func (sc scenario) groups() [][]runSpec {
	var gs [][]runSpec
	for i, r := range sc.Runs {
		if sc.Alternate > 0 && i > 0 && r.group != "" && r.group == sc.Runs[i-1].group {
			gs[len(gs)-1] = append(gs[len(gs)-1], r)
			continue
		}
		gs = append(gs, []runSpec{r})
	}
	return gs
}

// staticName is the file the static site serves: the exact bytes of the
// hit path's variant.
const (
	hitQuery   = "w=400"
	staticName = "kite-w400.jpg"
)

// browserAccept is what a current Chromium sends for images.
const browserAccept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

// scenarios is the benchmark, in the order it runs.
func scenarios(o options, s *server, z *zoneCluster, cb *clusterBench, db *diskBench, tb *tracedBench, peers []*peer, corpus map[string]*source) ([]scenario, error) {
	ceiling, err := pipelineOp(corpus[headline].data, hitQuery, imaging.DefaultConfig())
	if err != nil {
		return nil, err
	}
	c := o.concurrency
	scs := []scenario{
		{ID: "1", Name: "miss path vs in-process ceiling", Runs: []runSpec{
			{Name: "http miss, cache off", Ref: "in-process", Workers: c, About: "/" + headline + "?" + hitQuery,
				target: unique(s.miss, headline, hitQuery), expect: "miss"},
			{Name: "in-process", Workers: 2 * runtime.NumCPU(), About: "imaging.Inspect+Process, same bytes, as many goroutines as the server has jobs (2 per core)",
				op: ceiling},
		}},
		{ID: "2", Name: "hit path vs static file", Runs: []runSpec{
			{Name: "http hit", Ref: "static file_server", Workers: c, About: "/" + headline + "?" + hitQuery,
				target: fixed(s.hit + "/" + headline + "?" + hitQuery), expect: "hit"},
			{Name: "static file_server", Workers: c, About: "/" + staticName + " (same bytes)",
				target: fixed(s.static + "/" + staticName), expect: "none"},
		}},
		{ID: "3", Name: "output formats, w=400, cache off", Runs: []runSpec{
			formatRun(s, "jpeg", "", c),
			formatRun(s, "webp", "jpeg", c),
			formatRun(s, "avif", "jpeg", c),
		}},
		{ID: "4", Name: "22 MP source to w=1200, cache off", Runs: []runSpec{
			{Name: "http miss, 22 MP", Workers: c, About: "/" + largeJPG + "?w=1200",
				target: unique(s.miss, largeJPG, "w=1200"), expect: "miss"},
		}},
		{ID: "5", Name: "mixed soak, 40 MiB cache", Runs: []runSpec{
			{Name: fmt.Sprintf("%d mixed requests", o.soakRequests), Workers: o.soakConcurrency,
				About:  "30 widths x jpeg/webp/avif/auto x 4 sources, 3 Accept headers",
				target: cycle(soakTargets(s.soak, o.soakRequests)), count: uint64(o.soakRequests)},
		}},
	}
	if z != nil {
		scs = append(scs, forwardingScenario(z, c))
	}
	scs = append(scs, peerScenario(s, peers, c))
	if cb != nil {
		scs = append(scs, clusterScenario(cb, c, o.clusterRequests))
	}
	scs = append(scs, effectsScenario(s, c))
	if db != nil {
		scs = append(scs, diskScenario(db, s, c, o.clusterRequests))
	}
	if tb != nil {
		scs = append(scs, tracingScenario(s, tb, c))
	}
	if o.crashSoak > 0 {
		scs = append(scs, scenario{ID: "7", Name: "crash soak: distinct variants, cache off", Runs: []runSpec{
			{Name: fmt.Sprintf("%s, 24 connections", o.crashSoak), Workers: 24, limit: o.crashSoak,
				About:  "/" + headline + "?w=300..699, every request a new variant (issue 18's load); caddy must stay up",
				target: widths(s.miss, headline, 300, 400), expect: "miss"},
		}})
	}
	return scs, nil
}

// widths asks for n widths from lo in turn, each request a new variant.
func widths(base, file string, lo, n int) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: fmt.Sprintf("%s/%s?w=%d&bench=%d", base, file, lo+int(i%uint64(n)), i)}
	}
}

func formatRun(s *server, format, ref string, workers int) runSpec {
	q := hitQuery + "&f=" + format
	return runSpec{Name: format, Ref: ref, Workers: workers, About: "/" + headline + "?" + q,
		target: unique(s.miss, headline, q), expect: "miss"}
}

// effectsScenario prices a watermark, a colour adjustment and the
// descriptions against the plain resize they ride on, cache off: every
// request fetches its original (and its mark) and does all the work.
func effectsScenario(s *server, c int) scenario {
	const plain = "plain resize"
	run := func(name, extra string) runSpec {
		q := hitQuery + extra
		return runSpec{Name: name, Ref: plain, Workers: c, About: "/" + headline + "?" + q,
			target: unique(s.miss, headline, q), expect: "miss"}
	}
	return scenario{ID: "10", Name: "effects and descriptions vs plain resize, w=400, cache off", Alternate: 4, Runs: []runSpec{
		{Name: plain, Workers: c, About: "/" + headline + "?" + hitQuery, target: unique(s.miss, headline, hitQuery), expect: "miss", group: "effects"},
		withGroup(run("watermark", "&mark=/"+logoPNG+"&mark-scale=25"), "effects"),
		withGroup(run("sat=-50&con=20", "&sat=-50&con=20"), "effects"),
		withGroup(run("fm=json", "&fm=json"), "effects"),
		withGroup(run("fm=blurhash", "&fm=blurhash"), "effects"),
	}}
}

func withGroup(r runSpec, group string) runSpec {
	r.group = group
	return r
}

// unique asks for the same variant every time, plus a query parameter
// that changes per request. imgedge ignores the parameter for the image
// but keys originals and variants on the whole source URL, so concurrent
// requests are not collapsed into one resize: each one is a real miss.
func unique(base, file, query string) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: fmt.Sprintf("%s/%s?%s&bench=%d", base, file, query, i)}
	}
}

// fixed asks for one URL every time.
func fixed(url string) func(uint64) vegeta.Target {
	return func(uint64) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: url}
	}
}

// cycle goes through targets in order, over and over.
func cycle(targets []vegeta.Target) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target { return targets[i%uint64(len(targets))] }
}

// forwardingScenario compares a request served locally by zone b with the
// same request sent to the one-slot zone a, which forwards what it cannot
// take to zone b: the cost of the extra hop and of the busy check.
func forwardingScenario(z *zoneCluster, c int) scenario {
	const local = "local, zone b"
	var forwardsBefore float64
	return scenario{ID: "6", Name: "forwarded vs local", Runs: []runSpec{
		{Name: local, Workers: c, About: "/" + headline + "?" + hitQuery + " straight to zone b",
			target: unique(z.b, headline, hitQuery), expect: "miss", pid: z.bPID},
		{Name: "via busy zone a", Ref: local, Workers: c,
			About:  "the same to zone a (1 slot, no queue): forwarded to b when busy; CPU is zone a's",
			target: unique(z.a, headline, hitQuery), expect: "miss", pid: z.aPID,
			before: func() { forwardsBefore = z.metric(`imgedge_forwards_total{result="ok"}`) },
			after: func(r *runResult) {
				n := z.metric(`imgedge_forwards_total{result="ok"}`) - forwardsBefore
				r.Note = fmt.Sprintf("%.0f of %d answers (%.0f%%) were forwarded to zone b", n, r.Requests, 100*n/float64(max(1, r.Requests)))
			}},
	}}
}

// soakTargets is a fixed pseudo-random mix of n requests over 30 widths,
// four output choices and the four sources; f=auto meets three kinds of
// browser.
func soakTargets(base string, n int) []vegeta.Target {
	sources := []string{headline, alphaPNG, bigWebP, largeJPG}
	formats := []string{"jpeg", "webp", "avif", "auto"}
	accepts := []string{browserAccept, "image/webp,*/*", "*/*"}
	rng := rand.New(rand.NewPCG(2024, 400))
	targets := make([]vegeta.Target, n)
	for i := range targets {
		w := 64 + 52*rng.IntN(30) // 64 .. 1572
		targets[i] = vegeta.Target{
			Method: http.MethodGet,
			URL:    fmt.Sprintf("%s/%s?w=%d&f=%s", base, sources[rng.IntN(len(sources))], w, formats[rng.IntN(len(formats))]),
			Header: http.Header{"Accept": {accepts[rng.IntN(len(accepts))]}},
		}
	}
	return targets
}

// peerCase is one kind of miss the peers are measured on.
type peerCase struct {
	file, format string
	lo, n        int // widths lo .. lo+n-1, one per request in turn
}

var peerCases = []peerCase{
	{headline, "jpeg", 300, 400},
	{headline, "webp", 300, 400},
	{headline, "avif", 300, 400},
	{headline, "jpeg", 100, 1500},
	{alphaPNG, "webp", 200, 400},
	{largeJPG, "jpeg", 800, 800},
}

// peerScenario is the miss path on distinct variants (every request a
// new width, so nothing is collapsed or cached) beside the peers given,
// each case alternating between the servers, imgedge compared with the
// first peer.
func peerScenario(s *server, peers []*peer, workers int) scenario {
	sc := scenario{ID: "8", Name: "miss path vs peers, distinct variants", Alternate: 4}
	for _, pc := range peerCases {
		label := fmt.Sprintf("%s to %s w=%d..%d", pc.file, pc.format, pc.lo, pc.lo+pc.n-1)
		ref := ""
		if len(peers) > 0 {
			ref = peers[0].name + " " + label
		}
		own := func(w int) string { return fmt.Sprintf("%s/%s?w=%d&f=%s", s.miss, pc.file, w, pc.format) }
		sc.Runs = append(sc.Runs, runSpec{Name: "imgedge " + label, Ref: ref, Workers: workers, group: label,
			About: fmt.Sprintf("/%s?w=%d..&f=%s, cache off", pc.file, pc.lo, pc.format), expect: "miss",
			target: distinctWidths(pc.lo, pc.n, own), after: sizeSample(pc.lo, pc.n, own)})
		for _, p := range peers {
			theirs := func(w int) string { return p.base + p.url(pc.file, w, pc.format) }
			sc.Runs = append(sc.Runs, runSpec{Name: p.name + " " + label, Workers: workers, group: label,
				About: p.url(pc.file, pc.lo, pc.format) + " ..", expect: "none", pid: p.pid(), cpuOf: p.name,
				target: distinctWidths(pc.lo, pc.n, theirs), after: sizeSample(pc.lo, pc.n, theirs)})
		}
	}
	return sc
}
