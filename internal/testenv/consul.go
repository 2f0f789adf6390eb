package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Consul is a real Consul dev agent (bin/consul) on loopback ports.
type Consul struct {
	t     testing.TB
	bin   string
	dir   string
	log   string
	ports []int // http, dns, serf-lan, serf-wan, server, grpc, grpc-tls
	Addr  string
	cmd   *exec.Cmd
	done  chan struct{}
}

// StartConsul starts a Consul dev agent for the test, waits for it to
// elect itself leader and stops it when the test ends. A missing bin/consul
// fails the test: it is built by `make consul`.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	bin := filepath.Join(ModuleRoot(t), "bin", "consul")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the Consul agent %s is missing: run `make consul` (it builds bin/consul from tools/consul): %v", bin, err)
	}
	dir := t.TempDir()
	c := &Consul{t: t, bin: bin, dir: dir, log: filepath.Join(dir, "consul.log"), ports: FreeTCPUDPPorts(t, 7)}
	c.Addr = "http://127.0.0.1:" + strconv.Itoa(c.ports[0])
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			if out, err := os.ReadFile(c.log); err == nil {
				t.Logf("consul log (tail):\n%s", tailBytes(out, 4000))
			}
		}
	})
	c.Start()
	return c
}

// Start runs the agent, on the same ports and data directory as before
// after a stop, and waits until it has a leader.
func (c *Consul) Start() {
	c.t.Helper()
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	p := c.ports
	c.cmd = exec.Command(c.bin, "agent", "-dev",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-node", "imgedge-test", "-data-dir", filepath.Join(c.dir, "data"),
		"-log-level", "warn",
		"-http-port", strconv.Itoa(p[0]), "-dns-port", strconv.Itoa(p[1]),
		"-serf-lan-port", strconv.Itoa(p[2]), "-serf-wan-port", strconv.Itoa(p[3]),
		"-server-port", strconv.Itoa(p[4]), "-grpc-port", strconv.Itoa(p[5]),
		"-grpc-tls-port", strconv.Itoa(p[6]),
	)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("starting consul: %v", err)
	}
	done := make(chan struct{})
	c.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(c.cmd)

	client := c.Client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			out, _ := os.ReadFile(c.log)
			c.t.Fatalf("consul exited at start:\n%s", tailBytes(out, 4000))
		default:
		}
		if leader, err := client.Status().Leader(); err == nil && leader != "" {
			// The agent's own node must be in the catalog before services
			// registered on it show up in health queries.
			if nodes, _, err := client.Catalog().Nodes(nil); err == nil && len(nodes) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatal("consul elected no leader within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the agent gracefully (SIGINT), killing it after 10s.
func (c *Consul) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *Consul) Client() *api.Client {
	cfg := api.DefaultConfig()
	cfg.Address = c.Addr
	client, err := api.NewClient(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	return client
}

// FreePortBlock finds n consecutive loopback ports free for TCP and UDP,
// for programs that take a base port (examples/multizone/run.sh).
func FreePortBlock(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(400)*100
		if portsFree(base, n) {
			return base
		}
	}
	t.Fatal("no block of free ports")
	return 0
}

func portsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}

// FreeTCPUDPPorts returns n distinct loopback ports free for both TCP and UDP
// (serf and DNS use both).
func FreeTCPUDPPorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, l.Close)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken for UDP: try another
		}
		closers = append(closers, u.Close)
		ports = append(ports, port)
	}
	return ports
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
