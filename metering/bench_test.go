//go:build unix

package metering

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMeter is a meter with the default batch boundaries, shipping to
// collector if it is set.
func benchMeter(b *testing.B, collector string) (*Meter, Record) {
	clock := newFakeClock()
	m, err := New(Config{Dir: b.TempDir(), Collector: collector, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(context.Background()) })
	return m, sampleRecord("acme", clock)
}

// BenchmarkRecord is the cost of Record on the request path. cpu-ns/op is
// the CPU time of the whole process per record, the sealer included.
func BenchmarkRecord(b *testing.B) {
	m, r := benchMeter(b, "")
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		m.Record(r)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

func BenchmarkRecordParallel(b *testing.B) {
	m, r := benchMeter(b, "")
	b.ReportAllocs()
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Record(r)
		}
	})
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRecordAndShip is the edge's whole cost of metering a request:
// Record, sealing, aggregating and shipping to a collector that only reads
// the batches. cpu-ns/op includes the drain in Close.
func BenchmarkRecordAndShip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	m, r := benchMeter(b, srv.URL+"/api/v1/events")
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Record(r)
		}
	})
	if err := m.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
	if st := m.Stats(); st.ShippedRequests != int64(b.N) {
		b.Fatalf("shipped %d of %d requests", st.ShippedRequests, b.N)
	}
}
