// Command bench measures imgedge end to end, each scenario side by side
// with its reference: the miss path against the in-process pipeline, the
// hit path against file_server serving the same bytes, the output formats
// against JPEG, a 22 MP source, a mixed soak that watches caddy's RSS, and
// a crash soak of distinct variants that caddy must survive.
//
// It builds a corpus from examples/site/photos, starts bin/caddy on free
// loopback ports with a miss-path, a hit-path and a static site, drives
// HTTP load with vegeta at fixed concurrency, and writes a table to
// stdout, results.json and latency.png to the output directory.
//
//	make bench
//	go run ./bench -caddy bin/caddy -out bench/out -duration 8s -warmup 2s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	caddy, consul, photos, out string
	duration, warmup           time.Duration
	concurrency                int
	soakRequests               int
	clusterRequests            int
	soakConcurrency            int
	soakTimeout                time.Duration
	crashSoak                  time.Duration
	imgproxy, imaginary        string // peers' binaries; empty: left out
	only                       string // scenario IDs to run, comma-separated; empty: all
}

func main() {
	var o options
	flag.StringVar(&o.caddy, "caddy", "bin/caddy", "the caddy binary with imgedge (make build)")
	flag.StringVar(&o.consul, "consul", "bin/consul", "the Consul agent for the forwarding scenario (make consul)")
	flag.StringVar(&o.photos, "photos", "examples/site/photos", "directory of the example photographs")
	flag.StringVar(&o.out, "out", "bench/out", "directory for results.json, latency.png and caddy.log")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "measured length of each fixed-length run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each fixed-length run")
	flag.IntVar(&o.concurrency, "concurrency", 4, "requests in flight in scenarios 1-4")
	flag.IntVar(&o.soakRequests, "soak-requests", 20000, "requests in the mixed soak")
	flag.IntVar(&o.clusterRequests, "cluster-requests", 3000, "requests in each zone run of scenario 9")
	flag.IntVar(&o.soakConcurrency, "soak-concurrency", 16, "requests in flight in the mixed soak")
	flag.DurationVar(&o.soakTimeout, "soak-timeout", 150*time.Second, "the most the soak may take")
	flag.DurationVar(&o.crashSoak, "crash-soak", 60*time.Second, "length of the crash soak (scenario 7, distinct variants at 24 connections); 0 leaves it out")
	flag.StringVar(&o.imgproxy, "imgproxy", "", "an imgproxy binary to measure beside imgedge in scenario 8 (see bench/README.md)")
	flag.StringVar(&o.imaginary, "imaginary", "", "an imaginary binary to measure beside imgedge in scenario 8")
	flag.StringVar(&o.only, "only", "", "run only these scenarios, e.g. 1,8 (default: all)")
	flag.Parse()
	if o.duration <= 0 || o.concurrency < 1 || o.soakRequests < 1 || o.soakConcurrency < 1 || o.soakTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "bench: durations, concurrency and soak requests must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	m := readMachine(o.caddy)
	m.print(os.Stdout)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "imgedge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	corpusDir := filepath.Join(tmp, "site")
	corpus, list, err := buildCorpus(o.photos, corpusDir)
	if err != nil {
		return err
	}
	for _, s := range list {
		fmt.Printf("source %-14s %-4s %4dx%-4d %7.1f KB  %s\n", s.Name, s.Format, s.Width, s.Height, float64(s.Bytes)/1024, s.About)
	}

	srv, err := startCaddy(o.caddy, tmp, corpusDir)
	if err != nil {
		return err
	}
	defer func() {
		srv.stop()
		_ = os.WriteFile(filepath.Join(o.out, "caddy.log"), []byte(srv.logs()), 0o644)
	}()
	if err := saveStaticVariant(ctx, srv); err != nil {
		return err
	}

	zones, err := startZones(o.caddy, o.consul, tmp, corpusDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenario 6 (forwarding) left out: %v\n", err)
		zones = nil
	} else {
		defer zones.stop()
	}
	var cluster *clusterBench
	if zones != nil && (o.only == "" || slices.Contains(strings.Split(o.only, ","), "9")) {
		if cluster, err = startClusterBench(o.caddy, zones.consulHTTP, tmp, corpusDir); err != nil {
			fmt.Fprintf(os.Stderr, "scenario 9 (one zone, one cache) left out: %v\n", err)
			cluster = nil
		} else {
			defer cluster.stop()
		}
	}
	var disks *diskBench
	if o.only == "" || slices.Contains(strings.Split(o.only, ","), "11") {
		if disks, err = startDiskBench(o.caddy, tmp, corpusDir); err != nil {
			return err
		}
		defer disks.stop()
	}
	var traced *tracedBench
	if o.only == "" || slices.Contains(strings.Split(o.only, ","), "12") {
		if traced, err = startTracedBench(o.caddy, tmp, corpusDir); err != nil {
			return err
		}
		defer traced.stop()
	}
	peers, err := startPeers(o, tmp, corpusDir)
	defer func() {
		for _, p := range peers {
			p.stop()
		}
	}()
	if err != nil {
		return err
	}
	scs, err := scenarios(o, srv, zones, cluster, disks, traced, peers, corpus)
	if err != nil {
		return err
	}
	rn := &runner{ctx: ctx, caddyPID: srv.pid(), duration: o.duration, warmup: o.warmup,
		soakTimeout: o.soakTimeout, requestTimeout: time.Minute}
	var done []scenarioResult
	var curves []series
	for _, sc := range scs {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), sc.ID) {
			continue
		}
		res := scenarioResult{ID: sc.ID, Name: sc.Name}
		for _, group := range sc.groups() {
			fmt.Fprintf(os.Stderr, "running %s / %s ...\n", sc.ID, group[0].Name)
			var runs []*runResult
			if len(group) > 1 {
				runs, err = rn.measureAlternating(group, sc.Alternate)
			} else {
				var r *runResult
				r, err = rn.measure(group[0])
				runs = []*runResult{r}
			}
			if err != nil {
				return err
			}
			if !srv.alive() {
				return fmt.Errorf("caddy exited during %s / %s; its log:\n%s", sc.ID, group[0].Name, tail(srv.logs(), 8000))
			}
			for _, r := range runs {
				res.Runs = append(res.Runs, r)
				curves = append(curves, series{label: sc.ID + " " + r.Name, points: r.Percentiles})
			}
		}
		compareRuns(res.Runs)
		done = append(done, res)
	}

	fmt.Println()
	printTable(os.Stdout, done)
	printNotes(os.Stdout, done)
	fmt.Println("note: cache-off runs add a per-request bench=<n> query parameter, so identical")
	fmt.Println("      concurrent requests are not collapsed into one resize: every request is a real miss.")
	chartPath := filepath.Join(o.out, "latency.png")
	colours, err := drawChart(chartPath, curves)
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(o.out, "results.json")
	err = writeJSON(jsonPath, results{
		Machine: m, Corpus: list, Scenarios: done, Chart: colours,
		Settings: map[string]string{
			"duration": o.duration.String(), "warmup": o.warmup.String(),
			"concurrency": fmt.Sprint(o.concurrency), "soak_requests": fmt.Sprint(o.soakRequests),
			"soak_concurrency":   fmt.Sprint(o.soakConcurrency),
			"caddy_image_resize": "concurrency default (2 per core, one libvips thread each), queue 1024 30s; miss site cache off, hit site cache 512MiB",
			"miss_requests":      "cache-off runs add a unique bench=<n> query parameter per request, defeating request collapsing",
		},
	})
	if err != nil {
		return err
	}
	fmt.Print("\nchart legend:")
	for i, c := range curves {
		fmt.Printf(" %d=%s;", i+1, c.label)
	}
	fmt.Printf("\nwrote %s, %s, %s\n", jsonPath, chartPath, filepath.Join(o.out, "caddy.log"))
	return nil
}

// saveStaticVariant fetches the hit path's variant once (warming the
// cache) and gives the static site the very same bytes.
func saveStaticVariant(ctx context.Context, srv *server) error {
	body, _, err := fetch(ctx, srv.hit+"/"+headline+"?"+hitQuery)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(srv.staticRoot, staticName), body, 0o644); err != nil {
		return err
	}
	again, _, err := fetch(ctx, srv.static+"/"+staticName)
	if err != nil {
		return err
	}
	if !bytes.Equal(body, again) {
		return fmt.Errorf("the static site does not serve the variant's bytes")
	}
	return nil
}

// compareRuns sets the ratios of every run that names a reference.
func compareRuns(runs []*runResult) {
	byName := map[string]*runResult{}
	for _, r := range runs {
		byName[r.Name] = r
	}
	for _, r := range runs {
		if ref, ok := byName[r.Ref]; ok && r.Ref != "" {
			r.compare(ref)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
