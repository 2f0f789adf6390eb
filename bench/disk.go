package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// diskBench is what scenario 11 measures the disk tier with: three lone
// nodes serving the corpus, one with memory only (64 MiB), one with a
// disk tier and a memory cache too small to matter (2 MiB: its hits come
// from disk), and one with both (64 MiB and a disk tier), which is
// killed and restarted as the memory-only one is.
type diskBench struct {
	mem, tiny, disk *benchNode
}

// benchNode is a caddy the benchmark can kill and start again.
type benchNode struct {
	bin, config, logPath, home string
	base, admin                string
	cmd                        *exec.Cmd
	exited                     chan struct{}
}

func startDiskBench(caddyBin, dir, corpusDir string) (*diskBench, error) {
	p, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	db := &diskBench{}
	for i, n := range []struct {
		name, memory, disk string
		dst                **benchNode
	}{
		{"mem", "64MiB", "", &db.mem},
		{"tiny", "2MiB", "cache_disk " + filepath.Join(dir, "disk-tiny") + " 256MiB", &db.tiny},
		{"disk", "64MiB", "cache_disk " + filepath.Join(dir, "disk-full") + " 256MiB", &db.disk},
	} {
		site, admin := p[2*i], p[2*i+1]
		node := &benchNode{bin: caddyBin, config: filepath.Join(dir, "disk-node-"+n.name), home: filepath.Join(dir, "home-disk-"+n.name),
			base: fmt.Sprintf("http://127.0.0.1:%d", site), admin: fmt.Sprintf("http://127.0.0.1:%d", admin)}
		node.logPath = node.config + ".log"
		if err := os.WriteFile(node.config, []byte(nodeConfig(admin, "node disk-"+n.name, site, corpusDir, "cache "+n.memory+"\n\t\t"+n.disk)), 0o644); err != nil {
			db.stop()
			return nil, err
		}
		if err := node.start(); err != nil {
			db.stop()
			return nil, err
		}
		*n.dst = node
	}
	return db, nil
}

func (n *benchNode) start() error {
	n.cmd = caddyCommand(n.bin, n.config, n.home)
	n.exited = make(chan struct{})
	if err := launch(n.cmd, n.logPath, n.exited); err != nil {
		return err
	}
	return poll(30*time.Second, func() bool {
		resp, err := http.Get(n.base + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}

func (n *benchNode) pid() int { return n.cmd.Process.Pid }

// restart kills the node (-9, as a crash) and starts it again.
func (n *benchNode) restart() error {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	return n.start()
}

func (n *benchNode) stop() {
	if n == nil || n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

func (db *diskBench) stop() {
	for _, n := range []*benchNode{db.mem, db.tiny, db.disk} {
		n.stop()
	}
}

// metric reads one sample of the node's metrics.
func (n *benchNode) metric(name string) float64 {
	return scrape(n.admin, name)
}

// warm asks for every path once, and waits until the disk tier (if any)
// has written what it was given.
func (n *benchNode) warm(paths []string) {
	for _, p := range paths {
		if resp, err := http.Get(n.base + p); err == nil {
			resp.Body.Close()
		}
	}
	_ = poll(30*time.Second, func() bool {
		w := n.metric("imgedge_disk_written_total")
		time.Sleep(300 * time.Millisecond)
		return n.metric("imgedge_disk_written_total") == w
	})
}

func diskScenario(db *diskBench, s *server, c, requests int) scenario {
	hitPaths := make([]string, 600)
	for i := range hitPaths {
		hitPaths[i] = fmt.Sprintf("/%s?v=disk%d&w=400&f=webp", headline, i)
	}
	stream := zipfStream(requests, 400)
	const memHit, afterDisk = "hit from memory", "after kill -9, disk tier"
	restartFigures := func(n *benchNode) (func(), func(*runResult)) {
		var resizes float64
		return func() { resizes = n.metric("imgedge_resize_total") }, func(r *runResult) {
			hits := r.CacheStatus["hit"]
			r.Note = fmt.Sprintf("the first %d requests after the restart: resizes %.0f, hit ratio %.1f%%",
				r.Requests, n.metric("imgedge_resize_total")-resizes, 100*float64(hits)/float64(max(1, r.Requests)))
		}
	}
	var diskHits float64
	tinyBefore := func() { diskHits = db.tiny.metric("imgedge_disk_hits_total") }
	tinyAfter := func(r *runResult) {
		r.Note = fmt.Sprintf("%.0f of %d answers read from disk", db.tiny.metric("imgedge_disk_hits_total")-diskHits, r.Requests)
	}
	diskBefore, diskAfter := restartFigures(db.disk)
	memBefore, memAfter := restartFigures(db.mem)
	return scenario{ID: "11", Name: "disk tier: hits from disk, and the restart", Runs: []runSpec{
		{Name: memHit, Workers: c, About: "/" + headline + "?" + hitQuery + " from a node's memory",
			target: fixed(db.mem.base + "/" + headline + "?" + hitQuery), expect: "hit", pidOf: db.mem.pid},
		{Name: "hit from disk", Ref: memHit, Workers: c, About: "600 variants (w=400 WebP) over a 2 MiB memory cache: read from the disk tier",
			target: cycleURLs(db.tiny.base, hitPaths), expect: "hit", pidOf: db.tiny.pid, setup: func() { db.tiny.warm(hitPaths) },
			before: tinyBefore, after: tinyAfter},
		{Name: "resize, cache off", Ref: memHit, Workers: c, About: "/" + headline + "?w=400&f=webp, every request a new variant",
			target: unique(s.miss, headline, "w=400&f=webp"), expect: "miss"},
		{Name: afterDisk, Workers: c, count: uint64(requests), pidOf: db.disk.pid,
			About:  fmt.Sprintf("%d requests (Zipf, 400 sources x 16 widths) made once, kill -9, restart, the same again", requests),
			target: cycleURLs(db.disk.base, stream), before: diskBefore, after: diskAfter,
			setup: func() { db.disk.warm(stream); _ = db.disk.restart() }},
		{Name: "after kill -9, memory only", Ref: afterDisk, Workers: c, count: uint64(requests), pidOf: db.mem.pid,
			About: "the same on the node without a disk tier", target: cycleURLs(db.mem.base, stream), before: memBefore, after: memAfter,
			setup: func() { db.mem.warm(stream); _ = db.mem.restart() }},
	}}
}

// cycleURLs asks for base+paths[i] in turn.
func cycleURLs(base string, paths []string) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: base + paths[i%uint64(len(paths))]}
	}
}
