package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/imgedge/imgedge/internal/vips"
)

// machine is what the numbers were measured on.
type machine struct {
	NProc   int    `json:"nproc"`
	CPU     string `json:"cpu"`
	Vips    string `json:"libvips"`
	Go      string `json:"go"`
	Caddy   string `json:"caddy"`
	LoadAvg string `json:"loadavg_at_start"`
}

func readMachine(caddyBin string) machine {
	m := machine{NProc: runtime.NumCPU(), Vips: vips.Version, Go: runtime.Version(), CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, caddyBin, "version").Output(); err == nil {
		m.Caddy = strings.Fields(string(out) + " ?")[0]
	}
	return m
}

func (m machine) print(w io.Writer) {
	fmt.Fprintf(w, "machine: nproc %d, %s, libvips %s, %s, caddy %s, load %s\n",
		m.NProc, m.CPU, m.Vips, m.Go, m.Caddy, m.LoadAvg)
}
