package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
)

// scenarioResult is a scenario's runs, as measured.
type scenarioResult struct {
	ID   string       `json:"id"`
	Name string       `json:"name"`
	Runs []*runResult `json:"runs"`
}

// results is results.json.
type results struct {
	Machine   machine           `json:"machine"`
	Settings  map[string]string `json:"settings"`
	Corpus    []*source         `json:"corpus"`
	Scenarios []scenarioResult  `json:"scenarios"`
	Chart     map[string]string `json:"chart_colours"`
}

func writeJSON(path string, r results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printTable prints one aligned row per run; a run with a reference shows
// its ratios to it, a soak its RSS trend.
func printTable(w io.Writer, scs []scenarioResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\trun\tconc\treq/s\tp50 ms\tp90 ms\tp99 ms\tCPU ms/req\tpeak RSS MB\terrors\tout KB\tvs reference")
	for _, sc := range scs {
		label := sc.ID + " " + sc.Name
		for _, r := range sc.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\t%s\t%s\t%.2f\t%.0f\t%d\t%.1f\t%s\n",
				label, r.Name, r.Workers, r.RPS, msString(r.P50), msString(r.P90), msString(r.P99),
				r.CPUPerReq, r.PeakRSS, r.Errors, r.MeanOutBytes/1024, versus(r))
			label = ""
		}
	}
	tw.Flush()
}

// versus is the table's last column.
func versus(r *runResult) string {
	switch {
	case r.Ratios != nil:
		s := fmt.Sprintf("%.2fx %s req/s, p99 %.2fx", r.Ratios["req_per_s"], r.Ref, r.Ratios["p99"])
		if m, ok := r.Ratios["slice_median"]; ok {
			s += fmt.Sprintf(", slices' median %.2fx", m)
		}
		if size := r.Ratios["out_bytes"]; math.Abs(size-1) > 0.01 {
			s += fmt.Sprintf(", size %.2fx", size)
		}
		return s
	case r.RSSSlope != nil:
		return fmt.Sprintf("RSS %+.1f MB/min over 2nd half", *r.RSSSlope)
	}
	return "-"
}

func msString(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// printNotes lists what a reader must know to trust the table: errors
// and answers whose Cache-Status was not what the run is meant to measure.
func printNotes(w io.Writer, scs []scenarioResult) {
	for _, sc := range scs {
		for _, r := range sc.Runs {
			if r.Errors > 0 {
				fmt.Fprintf(w, "note: %s / %s: %d of %d failed, status %v %s\n",
					sc.ID, r.Name, r.Errors, r.Requests, r.StatusCodes, strings.Join(r.ErrorSamples, "; "))
			}
			if r.Unexpected > 0 {
				fmt.Fprintf(w, "note: %s / %s: %d answers were not Cache-Status %q: %v\n",
					sc.ID, r.Name, r.Unexpected, r.expectedCache, r.CacheStatus)
			}
			if r.Note != "" {
				fmt.Fprintf(w, "note: %s / %s: %s\n", sc.ID, r.Name, r.Note)
			}
			if r.soak {
				fmt.Fprintf(w, "note: %s / %s: %d requests in %.1fs, Cache-Status %v\n",
					sc.ID, r.Name, r.Requests, r.Seconds, r.CacheStatus)
			}
		}
	}
}
