// Package testenv starts the real thing for integration tests: the caddy
// binary built from ./xcaddy, on loopback ports, stopped when the test ends.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// ModuleRoot is the directory holding imgedge's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); bytes.Contains(b, []byte("module github.com/imgedge/imgedge\n")) {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: imgedge's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// CaddyBinary builds the caddy binary once per test process (go's build
// cache makes this quick) and returns its path. IMGEDGE_CADDY overrides.
func CaddyBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMGEDGE_CADDY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imgedge-caddy-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", binary, "./xcaddy")
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building caddy: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Caddy is a running caddy process.
type Caddy struct {
	t       testing.TB
	cmd     *exec.Cmd
	Port    int    // HTTP port of the site
	Admin   string // admin API address, host:port
	Base    string // http://127.0.0.1:Port
	Config  string // path of the Caddyfile
	logs    *syncBuffer
	env     []string
	exited  chan struct{} // closed once the process has exited and been reaped
	stopped bool
	wrapper []string // a command caddy runs under, such as prlimit's
}

// Start runs caddy with the Caddyfile, after replacing {{PORT}} and
// {{ADMIN}} with free loopback ports, and waits until it serves. It is
// stopped when the test ends.
func Start(t testing.TB, caddyfile string) *Caddy {
	t.Helper()
	return StartOnPort(t, caddyfile, FreePort(t))
}

// StartOnPort is Start with the site on a given port.
func StartOnPort(t testing.TB, caddyfile string, port int) *Caddy {
	t.Helper()
	return start(t, caddyfile, port, nil)
}

// StartUnder is Start with caddy run under wrapper, a command and its
// arguments that end by running the rest of the command line, such as
// "prlimit --fsize=65536 --".
func StartUnder(t testing.TB, caddyfile string, wrapper ...string) *Caddy {
	t.Helper()
	return start(t, caddyfile, FreePort(t), wrapper)
}

func start(t testing.TB, caddyfile string, port int, wrapper []string) *Caddy {
	t.Helper()
	c := &Caddy{t: t, Port: port, Admin: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), logs: &syncBuffer{}, wrapper: wrapper}
	c.Base = fmt.Sprintf("http://127.0.0.1:%d", c.Port)
	c.Config = filepath.Join(t.TempDir(), "Caddyfile")
	c.env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	c.write(caddyfile)
	c.run()
	t.Cleanup(c.Stop)
	return c
}

func (c *Caddy) run() {
	c.t.Helper()
	args := append(append([]string(nil), c.wrapper...), CaddyBinary(c.t), "run", "--config", c.Config, "--adapter", "caddyfile")
	c.cmd = exec.Command(args[0], args[1:]...)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	c.cmd.Env = c.env
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	exited := make(chan struct{})
	c.exited = exited
	go func() { _ = c.cmd.Wait(); close(exited) }()
	c.stopped = false
	c.waitReady()
}

// Restart starts the process again, after Stop or Kill, with the same
// config, ports and data directories.
func (c *Caddy) Restart() {
	c.t.Helper()
	c.Stop()
	c.run()
}

func (c *Caddy) write(caddyfile string) {
	cf := strings.NewReplacer("{{PORT}}", fmt.Sprint(c.Port), "{{ADMIN}}", c.Admin).Replace(caddyfile)
	if err := os.WriteFile(c.Config, []byte(cf), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *Caddy) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if !c.Alive() {
			break
		}
		if resp, err := http.Get("http://" + c.Admin + "/config/"); err == nil {
			resp.Body.Close()
			if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port), time.Second); err == nil {
				conn.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("caddy did not start serving (exited: %v); its log:\n%s", !c.Alive(), c.logs.String())
}

// Reload replaces the config with a new Caddyfile through the admin API,
// as `caddy reload` does.
func (c *Caddy) Reload(caddyfile string) {
	c.t.Helper()
	c.write(caddyfile)
	cmd := exec.Command(CaddyBinary(c.t), "reload", "--config", c.Config, "--adapter", "caddyfile", "--address", c.Admin, "--force")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// PID is the process id, for RSS readings and signals.
func (c *Caddy) PID() int { return c.cmd.Process.Pid }

// RSS is the process's resident set size in bytes.
func (c *Caddy) RSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.PID()))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// Alive reports whether the process is still running.
func (c *Caddy) Alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (c *Caddy) Kill() {
	if c.stopped {
		return
	}
	c.stopped = true
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// Stop ends the process gracefully, killing it if it lingers.
func (c *Caddy) Stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	if c.t.Failed() {
		c.t.Logf("caddy log:\n%s", tail(c.logs.String(), 8000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
