package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// caddyfile holds the three sites every scenario talks to. The image sites
// queue generously, so throughput runs measure work rather than 503s.
const caddyfile = `{
	admin 127.0.0.1:{{ADMIN}}
	auto_https off
	persist_config off
}

# miss path: every request fetches and resizes
http://:{{MISS}} {
	bind 127.0.0.1
	root * {{CORPUS}}
	image_resize {
		cache off
		queue 1024 30s
		marks /logo.png
	}
	file_server
}

# hit path: the variant cache on
http://:{{HIT}} {
	bind 127.0.0.1
	root * {{CORPUS}}
	image_resize {
		cache 512MiB
		queue 1024 30s
	}
	file_server
}

# the soak: a cache smaller than the soak's variants (about 54 MB), so
# misses and evictions go on for the whole run and a rising RSS in its
# second half means memory kept, not a cache still filling
http://:{{SOAK}} {
	bind 127.0.0.1
	root * {{CORPUS}}
	image_resize {
		cache 40MiB originals 8MiB
		queue 1024 30s
	}
	file_server
}

# reference: the hit path's bytes as a plain static file
http://:{{STATIC}} {
	bind 127.0.0.1
	root * {{STATIC_ROOT}}
	file_server
}
`

// server is the running caddy process and the base URLs of its sites.
type server struct {
	cmd                *exec.Cmd
	admin              string // host:port of the admin API
	miss, hit, static  string // base URLs, http://127.0.0.1:port
	soak               string // the mixed soak's site, with a small cache
	staticRoot, config string
	logPath            string // caddy's stdout and stderr
	exited             chan struct{}
	stopOnce           sync.Once
}

// startCaddy writes the Caddyfile into dir and starts bin on free loopback
// ports. On failure it returns an error carrying caddy's log.
func startCaddy(bin, dir, corpusDir string) (*server, error) {
	return startCaddyWith(bin, dir, corpusDir, caddyfile, nil)
}

// startCaddyWith is startCaddy with another Caddyfile of the same sites,
// and env added to caddy's environment.
func startCaddyWith(bin, dir, corpusDir, caddyfile string, env []string) (*server, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	s := &server{
		admin:      fmt.Sprintf("127.0.0.1:%d", ports[0]),
		miss:       fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		hit:        fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		static:     fmt.Sprintf("http://127.0.0.1:%d", ports[3]),
		soak:       fmt.Sprintf("http://127.0.0.1:%d", ports[4]),
		staticRoot: filepath.Join(dir, "static"),
		config:     filepath.Join(dir, "Caddyfile"),
		logPath:    filepath.Join(dir, "caddy.log"),
		exited:     make(chan struct{}),
	}
	if err := os.MkdirAll(s.staticRoot, 0o755); err != nil {
		return nil, err
	}
	cf := strings.NewReplacer(
		"{{ADMIN}}", fmt.Sprint(ports[0]), "{{MISS}}", fmt.Sprint(ports[1]),
		"{{HIT}}", fmt.Sprint(ports[2]), "{{STATIC}}", fmt.Sprint(ports[3]), "{{SOAK}}", fmt.Sprint(ports[4]),
		"{{CORPUS}}", corpusDir, "{{STATIC_ROOT}}", s.staticRoot,
	).Replace(caddyfile)
	if err := os.WriteFile(s.config, []byte(cf), 0o644); err != nil {
		return nil, err
	}
	s.cmd = caddyCommand(bin, s.config, filepath.Join(dir, "home"))
	s.cmd.Env = append(s.cmd.Env, env...)
	if err := launch(s.cmd, s.logPath, s.exited); err != nil {
		return nil, err
	}
	if err := s.waitReady(30 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%v; caddy's log:\n%s", err, s.logs())
	}
	return s, nil
}

// caddyCommand runs bin with a Caddyfile and its own home directory.
func caddyCommand(bin, config, home string) *exec.Cmd {
	cmd := exec.Command(bin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
	return cmd
}

// launch starts cmd with its output in logPath and closes exited when it
// ends. The child gets SIGTERM should this program die without cleaning
// up; the signal follows the OS thread that started it, so that thread
// stays locked to a goroutine that lives as long as the child does.
func launch(cmd *exec.Cmd, logPath string, exited chan struct{}) error {
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(exited)
		defer logFile.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting %s: %v", cmd.Path, err)
	}
	return nil
}

// waitReady polls the admin API and every site's port until they answer.
func (s *server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("caddy exited during start-up")
		default:
		}
		if s.adminAnswers() && s.sitesListening() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("caddy did not serve within %s", limit)
}

func (s *server) sitesListening() bool {
	for _, base := range []string{s.miss, s.hit, s.static} {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

func (s *server) adminAnswers() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + s.admin + "/config/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// pid is caddy's process id, for /proc readings.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends caddy gracefully, killing it if it lingers. Safe to call twice.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// alive reports whether caddy is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// fetch GETs url and returns the body of a 200 answer.
func fetch(ctx context.Context, url string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return body, resp.Header, nil
}

// freePorts returns n distinct TCP ports free on 127.0.0.1 right now.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// logs is what caddy has printed so far.
func (s *server) logs() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}
