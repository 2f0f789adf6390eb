package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// zoneCluster is what scenario 6 measures forwarding with: a Consul agent
// and two zone nodes. Zone a has one processing slot and no queue, so
// under load it forwards most requests to zone b; zone b is an ordinary
// node, measured directly as the local reference.
type zoneCluster struct {
	procs      []*exec.Cmd
	exited     []chan struct{}
	a, b       string // base URLs
	aAdmin     string
	aPID, bPID int
	consulHTTP string
}

// nodeConfig is the Caddyfile of a benchmark node: its admin port, the
// lines of its imgedge option, its site's port and root, and the lines of
// its image_resize.
func nodeConfig(admin int, imgedge string, site int, root, imageResize string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	imgedge {
		%s
	}
}
http://:%d {
	bind 127.0.0.1
	root * %s
	image_resize {
		%s
	}
	file_server
}
`, admin, imgedge, site, root, imageResize)
}

// zoneLines are the imgedge option lines of a node of zone, named node,
// registered with the Consul agent at consul and reached on port.
func zoneLines(zone, node, consul string, port int, extra string) string {
	return fmt.Sprintf("zone %s\n\t\tnode %s\n\t\tconsul %s\n\t\tadvertise http://127.0.0.1:%d\n\t\tsecret bench-cluster-secret-0123456789abcdef\n\t\t%s",
		zone, node, consul, port, extra)
}

// startZones starts Consul and the two nodes, and waits until zone a
// knows zone b.
func startZones(caddyBin, consulBin, dir, corpusDir string) (*zoneCluster, error) {
	if _, err := os.Stat(consulBin); err != nil {
		return nil, fmt.Errorf("%s is missing: run make consul", consulBin)
	}
	p, err := freePorts(11)
	if err != nil {
		return nil, err
	}
	z := &zoneCluster{consulHTTP: fmt.Sprintf("http://127.0.0.1:%d", p[0])}
	consul := exec.Command(consulBin, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-log-level", "warn", "-data-dir", filepath.Join(dir, "consul"),
		"-http-port", strconv.Itoa(p[0]), "-dns-port", "-1", "-serf-lan-port", strconv.Itoa(p[1]),
		"-serf-wan-port", strconv.Itoa(p[2]), "-server-port", strconv.Itoa(p[3]),
		"-grpc-port", strconv.Itoa(p[4]), "-grpc-tls-port", strconv.Itoa(p[5]))
	if err := z.start(consul, filepath.Join(dir, "consul.log")); err != nil {
		return nil, err
	}
	if err := poll(20*time.Second, func() bool {
		resp, err := http.Get(z.consulHTTP + "/v1/status/leader")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return strings.Contains(string(b[:n]), ":")
	}); err != nil {
		z.stop()
		return nil, fmt.Errorf("consul elected no leader: %v", err)
	}
	nodes := []struct {
		zone        string
		site, admin int
		options     string
		base        *string
		pid         *int
	}{
		{"b", p[6], p[7], "queue 1024 30s", &z.b, &z.bPID},
		{"a", p[8], p[9], "concurrency 1\n\t\tqueue 0", &z.a, &z.aPID},
	}
	for _, n := range nodes {
		config := filepath.Join(dir, "zone-"+n.zone)
		cf := nodeConfig(n.admin, zoneLines(n.zone, "bench-"+n.zone, z.consulHTTP, n.site, ""), n.site, corpusDir, "cache off\n\t\t"+n.options)
		if err := os.WriteFile(config, []byte(cf), 0o644); err != nil {
			z.stop()
			return nil, err
		}
		cmd := caddyCommand(caddyBin, config, filepath.Join(dir, "home-"+n.zone))
		if err := z.start(cmd, config+".log"); err != nil {
			z.stop()
			return nil, err
		}
		*n.base, *n.pid = fmt.Sprintf("http://127.0.0.1:%d", n.site), cmd.Process.Pid
	}
	z.aAdmin = fmt.Sprintf("http://127.0.0.1:%d", p[9])
	if err := poll(30*time.Second, func() bool { return z.metric(`imgedge_zone_peers{zone="b"}`) >= 1 }); err != nil {
		z.stop()
		return nil, fmt.Errorf("zone a did not discover zone b: %v", err)
	}
	return z, nil
}

func (z *zoneCluster) start(cmd *exec.Cmd, logPath string) error {
	exited := make(chan struct{})
	if err := launch(cmd, logPath, exited); err != nil {
		return err
	}
	z.procs = append(z.procs, cmd)
	z.exited = append(z.exited, exited)
	return nil
}

// metric reads one sample from zone a's metrics; 0 when absent.
func (z *zoneCluster) metric(name string) float64 { return scrape(z.aAdmin, name) }

// scrape reads one sample from the metrics of the caddy whose admin API
// is at admin (a base URL); 0 when absent.
func scrape(admin, name string) float64 {
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

// stop ends the nodes, then Consul.
func (z *zoneCluster) stop() { stopAll(z.procs, z.exited) }

// stopAll ends the processes, last started first: SIGTERM, then SIGKILL
// after 10s.
func stopAll(procs []*exec.Cmd, exited []chan struct{}) {
	for i := len(procs) - 1; i >= 0; i-- {
		_ = procs[i].Process.Signal(syscall.SIGTERM)
		select {
		case <-exited[i]:
		case <-time.After(10 * time.Second):
			_ = procs[i].Process.Kill()
			<-exited[i]
		}
	}
}

// poll checks cond until it holds or limit passes.
func poll(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not within %s", limit)
}
