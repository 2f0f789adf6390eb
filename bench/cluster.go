package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// clusterBench is what scenario 9 measures a zone's shared cache with:
// two zones of three nodes each, one clustered and one with `cluster
// off`, and a lone node holding as much memory as a whole zone, the
// ceiling a zone of one cache is held to. Every node serves the corpus
// with file_server behind image_resize: an "origin fetch" is a fetch
// through the route, counted by imgedge_fetch_duration_seconds_count.
type clusterBench struct {
	on, off []clusterNode
	one     clusterNode
	procs   []*exec.Cmd
	exited  []chan struct{}
}

type clusterNode struct {
	name, base, admin string
	pid               int
}

// clusterCache is each zone node's variant cache; the lone node has three
// times as much. Small enough that the stream does not fit in one node.
const clusterCache = 12 << 20

// startClusterBench starts the seven nodes against the Consul agent at
// consulHTTP and waits until each zone node knows its two peers.
func startClusterBench(caddyBin, consulHTTP, dir, corpusDir string) (*clusterBench, error) {
	p, err := freePorts(14)
	if err != nil {
		return nil, err
	}
	cb := &clusterBench{}
	start := func(name, cf string, site, admin int) (clusterNode, error) {
		config := filepath.Join(dir, "cluster-"+name)
		if err := os.WriteFile(config, []byte(cf), 0o644); err != nil {
			return clusterNode{}, err
		}
		cmd := caddyCommand(caddyBin, config, filepath.Join(dir, "home-cluster-"+name))
		exited := make(chan struct{})
		if err := launch(cmd, config+".log", exited); err != nil {
			return clusterNode{}, err
		}
		cb.procs, cb.exited = append(cb.procs, cmd), append(cb.exited, exited)
		return clusterNode{name: name, base: fmt.Sprintf("http://127.0.0.1:%d", site),
			admin: fmt.Sprintf("http://127.0.0.1:%d", admin), pid: cmd.Process.Pid}, nil
	}
	for i := range 6 {
		zone, extra, list := "c-on", "", &cb.on
		if i >= 3 {
			zone, extra, list = "c-off", "cluster off", &cb.off
		}
		name := fmt.Sprintf("%s-%d", zone, i%3+1)
		site, admin := p[2*i], p[2*i+1]
		n, err := start(name, nodeConfig(admin, zoneLines(zone, name, consulHTTP, site, extra), site, corpusDir,
			fmt.Sprintf("cache %d\n\t\tqueue 1024 30s", clusterCache)), site, admin)
		if err != nil {
			cb.stop()
			return nil, err
		}
		*list = append(*list, n)
	}
	one, err := start("one", nodeConfig(p[13], "node one", p[12], corpusDir, fmt.Sprintf("cache %d\n\t\tqueue 1024 30s", 3*clusterCache)), p[12], p[13])
	if err != nil {
		cb.stop()
		return nil, err
	}
	cb.one = one
	for _, zone := range []struct {
		name  string
		nodes []clusterNode
	}{{"c-on", cb.on}, {"c-off", cb.off}} {
		for _, n := range zone.nodes {
			if err := poll(30*time.Second, func() bool { return n.metric(fmt.Sprintf(`imgedge_zone_peers{zone=%q}`, zone.name)) >= 2 }); err != nil {
				cb.stop()
				return nil, fmt.Errorf("%s did not discover its zone: %v", n.name, err)
			}
		}
	}
	return cb, nil
}

// metric reads one sample from the node's metrics; 0 when absent.
func (n clusterNode) metric(name string) float64 { return scrape(n.admin, name) }

func (cb *clusterBench) stop() { stopAll(cb.procs, cb.exited) }

// zipfStream is a fixed stream of n requests over sources x widths, both
// Zipf-distributed (a few hot sources and sizes, a long tail): the
// request mix of an image CDN. A source is the headline photo under its
// own v= query, which the origin ignores and imgedge keys apart.
func zipfStream(n, sources int) []string {
	rng := rand.New(rand.NewPCG(13, 2026))
	src := rand.NewZipf(rng, 1.1, 2, uint64(sources-1))
	width := rand.NewZipf(rng, 1.3, 1, 15)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/%s?v=%d&w=%d", headline, src.Uint64(), 160+40*width.Uint64())
	}
	return out
}

// roundRobin sends the i-th path of stream to node i mod len(nodes), as
// a plain load balancer in front of a zone would.
func roundRobin(nodes []clusterNode, stream []string) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target {
		n := nodes[i%uint64(len(nodes))]
		return vegeta.Target{Method: http.MethodGet, URL: n.base + stream[i%uint64(len(stream))]}
	}
}

// zoneFigures annotates a run with what the whole zone did: resizes,
// origin fetches and the hit ratio of its answers.
func zoneFigures(nodes []clusterNode) (before func(), after func(*runResult)) {
	sum := func(name string) float64 {
		var s float64
		for _, n := range nodes {
			s += n.metric(name)
		}
		return s
	}
	var resizes, fetches float64
	before = func() {
		resizes, fetches = sum("imgedge_resize_total"), sum("imgedge_fetch_duration_seconds_count")
	}
	after = func(r *runResult) {
		hits := r.CacheStatus["hit"]
		r.Note = fmt.Sprintf("resizes %.0f, origin fetches %.0f, hit ratio %.1f%% (%d of %d answers)",
			sum("imgedge_resize_total")-resizes, sum("imgedge_fetch_duration_seconds_count")-fetches,
			100*float64(hits)/float64(max(1, r.Requests)), hits, r.Requests)
	}
	return before, after
}

// clusterScenario compares the clustered zone with the same zone
// clustering off, and with one node holding the zone's memory; then the
// cost of the peer hop on a hit.
func clusterScenario(cb *clusterBench, c, requests int) scenario {
	stream := zipfStream(requests, 400)
	const ceiling = "one node, 3x memory"
	onBefore, onAfter := zoneFigures(cb.on)
	offBefore, offAfter := zoneFigures(cb.off)
	oneBefore, oneAfter := zoneFigures([]clusterNode{cb.one})
	about := fmt.Sprintf("%d requests, Zipf over 400 sources x 16 widths, round-robin over the zone's 3 nodes (%d MiB cache each); CPU is node 1's",
		requests, clusterCache>>20)
	hop := &hopTargets{}
	return scenario{ID: "9", Name: "one zone, one cache: clustering on vs off", Runs: []runSpec{
		{Name: "hit on its owner", Workers: c, count: hopVariants, expect: "hit",
			About:  fmt.Sprintf("%d cached variants, each asked once of the node that owns it", hopVariants),
			target: hop.target(true), pid: cb.on[0].pid, before: func() { hop.warm(cb.on) }},
		{Name: "hit through a peer", Ref: "hit on its owner", Workers: c, count: hopVariants, expect: "hit",
			About:  "the same variants, each asked once of a node that does not own it (once: no hot copy is kept)",
			target: hop.target(false), pid: cb.on[0].pid},
		{Name: ceiling, Workers: c, count: uint64(requests), About: fmt.Sprintf("the same stream to one node with %d MiB", 3*clusterCache>>20),
			target: roundRobin([]clusterNode{cb.one}, stream), pid: cb.one.pid, before: oneBefore, after: oneAfter},
		{Name: "clustering on", Ref: ceiling, Workers: c, count: uint64(requests), About: about,
			target: roundRobin(cb.on, stream), pid: cb.on[0].pid, after: onAfter,
			// The hop runs' variants go first: the zone starts as empty as the others.
			before: func() { cb.purgeAll(); onBefore() }},
		{Name: "clustering off", Ref: ceiling, Workers: c, count: uint64(requests), About: about,
			target: roundRobin(cb.off, stream), pid: cb.off[0].pid, before: offBefore, after: offAfter},
	}}
}

// purgeAll drops what the clustered zone holds, through one node's admin
// API (the fleet purge), and gives the purge a moment to reach the rest.
func (cb *clusterBench) purgeAll() {
	resp, err := http.Post(cb.on[0].admin+"/imgedge/purge", "application/json", strings.NewReader(`{"tenant": "127.0.0.1"}`))
	if err == nil {
		resp.Body.Close()
	}
	time.Sleep(time.Second)
}

// hopVariants is how many cached variants the hop runs ask for.
const hopVariants = 1500

// hopTargets are variants cached on their owners, with the URL of each on
// its owner and on another node.
type hopTargets struct{ owner, peer []string }

// warm makes every variant once, on its owner, and learns who that is.
func (h *hopTargets) warm(nodes []clusterNode) {
	byName := map[string]clusterNode{}
	for _, n := range nodes {
		byName[n.name] = n
	}
	for i := range hopVariants {
		path := fmt.Sprintf("/%s?v=hop%d&w=200", headline, i)
		resp, err := http.Get(nodes[0].base + path)
		if err != nil {
			continue
		}
		resp.Body.Close()
		owner, ok := byName[resp.Header.Get("Imgedge-Node")]
		if !ok {
			continue
		}
		other := nodes[0]
		if other.name == owner.name || i%2 == 1 {
			for _, n := range nodes {
				if n.name != owner.name && n.name != nodes[0].name {
					other = n
				}
			}
		}
		h.owner = append(h.owner, owner.base+path)
		h.peer = append(h.peer, other.base+path)
	}
}

func (h *hopTargets) target(onOwner bool) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target {
		urls := h.peer
		if onOwner {
			urls = h.owner
		}
		if len(urls) == 0 {
			return vegeta.Target{Method: http.MethodGet, URL: "http://127.0.0.1:1/not-warmed"}
		}
		return vegeta.Target{Method: http.MethodGet, URL: urls[i%uint64(len(urls))]}
	}
}
