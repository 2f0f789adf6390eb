package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// peer is another image server measured beside imgedge on the same
// corpus: imgproxy (given with -imgproxy) or imaginary (-imaginary).
type peer struct {
	name    string
	base    string                                         // http://127.0.0.1:port
	url     func(file string, w int, format string) string // path and query of one variant
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// startPeers starts the peers that were given, each on a free loopback
// port and serving the corpus from disk: their best case, with no origin
// hop, against imgedge fetching through its Caddy route.
func startPeers(o options, dir, corpusDir string) ([]*peer, error) {
	var peers []*peer
	for _, p := range []struct {
		name, bin string
		start     func(bin, port, corpus string) (*exec.Cmd, func(string, int, string) string)
	}{
		{"imgproxy", o.imgproxy, imgproxyCommand},
		{"imaginary", o.imaginary, imaginaryCommand},
	} {
		if p.bin == "" {
			continue
		}
		ports, err := freePorts(1)
		if err != nil {
			return peers, err
		}
		port := fmt.Sprint(ports[0])
		cmd, url := p.start(p.bin, port, corpusDir)
		pr := &peer{name: p.name, base: "http://127.0.0.1:" + port, url: url, cmd: cmd,
			exited: make(chan struct{}), logPath: filepath.Join(dir, p.name+".log")}
		if err := launch(cmd, pr.logPath, pr.exited); err != nil {
			return peers, err
		}
		peers = append(peers, pr)
		if err := pr.waitReady(30 * time.Second); err != nil {
			b, _ := os.ReadFile(pr.logPath)
			return peers, fmt.Errorf("%s: %v; its log:\n%s", p.name, err, tail(string(b), 4000))
		}
	}
	return peers, nil
}

// imgproxyCommand runs imgproxy at imgedge's qualities (JPEG and WebP 80,
// AVIF 60: its own defaults are WebP 79 and AVIF 63), with its other
// defaults (two workers per core, one libvips thread per job, WebP effort
// 4, AVIF speed 8), unsigned URLs, files from corpus, and logging at
// warnings only.
func imgproxyCommand(bin, port, corpus string) (*exec.Cmd, func(string, int, string) string) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "IMGPROXY_BIND=127.0.0.1:"+port, "IMGPROXY_LOCAL_FILESYSTEM_ROOT="+corpus,
		"IMGPROXY_LOG_LEVEL=warn", "IMGPROXY_QUALITY=80", "IMGPROXY_FORMAT_QUALITY=jpeg=80,webp=80,avif=60")
	return cmd, func(file string, w int, format string) string {
		return fmt.Sprintf("/insecure/rs:fit:%d:0/plain/local:///%s@%s", w, file, imgproxyFormat(format))
	}
}

func imgproxyFormat(f string) string {
	if f == "jpeg" {
		return "jpg"
	}
	return f
}

// imaginaryCommand runs imaginary serving files from corpus.
func imaginaryCommand(bin, port, corpus string) (*exec.Cmd, func(string, int, string) string) {
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", port, "-mount", corpus, "-concurrency", "0")
	return cmd, func(file string, w int, format string) string {
		return fmt.Sprintf("/resize?file=%s&width=%d&type=%s&quality=80", file, w, format)
	}
}

func (p *peer) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return errors.New("exited during start-up")
		default:
		}
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.base, "http://"), time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("did not listen within %s", limit)
}

func (p *peer) pid() int { return p.cmd.Process.Pid }

func (p *peer) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// distinctWidths asks for widths lo, lo+1, ... lo+n-1 in turn, each
// request a different variant: nothing is collapsed or cached, every
// request is a resize.
func distinctWidths(lo, n int, url func(w int) string) func(uint64) vegeta.Target {
	return func(i uint64) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: url(lo + int(i%uint64(n)))}
	}
}

// sizeSample sets a run's mean output size to that of 16 widths spread
// over lo .. lo+n-1, asked once each after the run: the same variants of
// every server. (Over the run's own requests, a faster server gets further
// through the widths, and its mean is of larger outputs.)
func sizeSample(lo, n int, url func(w int) string) func(*runResult) {
	return func(r *runResult) {
		const k = 16
		total, got := 0, 0
		for i := range k {
			resp, err := http.Get(url(lo + i*(n-1)/(k-1)))
			if err != nil {
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				total += len(b)
				got++
			}
		}
		if got == k {
			r.MeanOutBytes = float64(total) / k
		} else {
			r.MeanOutBytes = 0 // no comparison rather than a wrong one
		}
	}
}
