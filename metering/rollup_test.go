package metering

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// trafficRecords returns n records of varied tenants, zones, statuses and
// cache statuses spread over span from start.
func trafficRecords(n int, start time.Time, span time.Duration) []Record {
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[rnd.IntN(len(s))] }
	records := make([]Record, n)
	for i := range records {
		records[i] = Record{
			Tenant:       pick("acme", "beta", "gamma.example.net"),
			Time:         start.Add(time.Duration(rnd.Int64N(int64(span)))),
			Status:       []int{200, 200, 200, 304, 400, 502}[rnd.IntN(6)],
			CacheStatus:  pick("hit", "hit", "miss", "collapsed", "bypass"),
			SourceBytes:  rnd.Int64N(5 << 20),
			OutputBytes:  rnd.Int64N(1 << 20),
			OutputPixels: rnd.Int64N(4000 * 3000),
			CPU:          time.Duration(rnd.Int64N(int64(50 * time.Millisecond))),
			Wall:         time.Duration(rnd.Int64N(int64(time.Second))),
			Zone:         pick("eu-1", "us-2"),
			Node:         pick("edge-1", "edge-2"),
			Forwarded:    rnd.IntN(4) == 0,
		}
	}
	return records
}

func groupOf(r *Record) groupKey {
	return groupKey{tenant: r.Tenant, minute: minuteOf(r.Time.UnixNano()), zone: r.Zone, node: r.Node,
		cacheStatus: r.CacheStatus, status: r.Status, forwarded: r.Forwarded}
}

func TestRollupsSumExactlyWhatWasRecorded(t *testing.T) {
	records := trafficRecords(3000, t0, 5*time.Minute)
	want := map[groupKey]usageSums{}
	var data []byte
	for i := range records {
		r := &records[i]
		s := want[groupOf(r)]
		d := decodedRecord{sourceBytes: r.SourceBytes, outputBytes: r.OutputBytes, outputPixels: r.OutputPixels,
			cpuNs: int64(r.CPU), wallNs: int64(r.Wall), recordSums: recordSums{requests: 1}}
		if r.CacheStatus == cacheHit {
			d.hits = 1
		}
		if i%100 == 0 { // usage summed in memory while the spool was full
			d.recordSums = recordSums{requests: 7, hits: 3}
			m := *r
			m.Time = r.Time.Truncate(time.Minute)
			data = appendRecordFrame(data, &m, &d.recordSums)
		} else {
			data = appendRecordFrame(data, r, nil)
		}
		s.add(&d)
		want[groupOf(r)] = s
	}

	if len(want) > len(records)/2 {
		t.Fatalf("%d groups of %d records: too few to fold", len(want), len(records))
	}
	u := aggregate(data)
	if u.bad != 0 || len(u.legacy) != 0 {
		t.Fatalf("%d bad frames, %d legacy events", u.bad, len(u.legacy))
	}
	if len(u.rollups) != len(want) {
		t.Fatalf("%d rollups, want one per group: %d", len(u.rollups), len(want))
	}
	for _, r := range u.rollups {
		if w, ok := want[r.key]; !ok || r.usageSums != w {
			t.Errorf("group %+v: sums %+v, want %+v", r.key, r.usageSums, w)
		}
	}
}

func TestRollupsGiveTheUsageOfPerRequestEvents(t *testing.T) {
	ctx := context.Background()
	records := trafficRecords(2000, t0.Add(17*time.Second), 3*time.Hour)
	perRequest, rollups := openTestSQLite(t), openTestSQLite(t)
	var events []Event
	for i := range records {
		events = append(events, requestEvent("imgedge/test", &records[i]))
	}
	if _, err := perRequest.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	// Three segments, so that groups are split across batches.
	for seg, part := range [][]Record{records[:700], records[700:701], records[701:]} {
		var data []byte
		for i := range part {
			data = appendRecordFrame(data, &part[i], nil)
		}
		var evs []Event
		for _, r := range aggregate(data).rollups {
			e, _ := r.events("imgedge/test", segID("000000000001-0000000000000001", uint64(seg)))
			evs = append(evs, e...)
		}
		if _, err := rollups.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}

	for _, q := range []Query{
		{From: t0, To: t0.Add(4 * time.Hour), Step: time.Minute},
		{From: t0, To: t0.Add(4 * time.Hour), Step: 5 * time.Minute},
		{From: t0.Add(-time.Hour), To: t0.Add(4 * time.Hour), Step: time.Hour},
		{From: t0.Add(30 * time.Minute), To: t0.Add(150 * time.Minute), Step: 24 * time.Hour},
		{Tenant: "beta", From: t0, To: t0.Add(4 * time.Hour), Step: 10 * time.Minute},
	} {
		t.Run(fmt.Sprintf("%s step %s", q.Tenant, q.Step), func(t *testing.T) {
			want, got := usage(t, perRequest, q), usage(t, rollups, q)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d buckets, want %d", len(got), len(want))
			}
			for i := range want {
				w, g := want[i], got[i]
				if math.Abs(g.CPUMillis-w.CPUMillis) > 1e-9*w.CPUMillis {
					t.Errorf("bucket %d: cpu_ms %v, want %v", i, g.CPUMillis, w.CPUMillis)
				}
				g.CPUMillis = w.CPUMillis
				if !g.Start.Equal(w.Start) {
					t.Errorf("bucket %d starts %s, want %s", i, g.Start, w.Start)
				}
				g.Start = w.Start
				if g != w {
					t.Errorf("bucket %d\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

func TestRollupIDsAreStable(t *testing.T) {
	records := trafficRecords(500, t0, 10*time.Minute)
	var data []byte
	for i := range records {
		data = appendRecordFrame(data, &records[i], nil)
	}
	events := func(segID string) []Event {
		var evs []Event
		for _, r := range aggregate(data).rollups {
			e, _ := r.events("imgedge/test", segID)
			evs = append(evs, e...)
		}
		return evs
	}
	const a, b = "019ca8d72d7b-702cb8119452cd20-00000001", "019ca8d72d7b-702cb8119452cd20-00000002"
	first, again, other := events(a), events(a), events(b)
	if !reflect.DeepEqual(first, again) {
		t.Fatal("aggregating the same segment again gave other events")
	}
	ids := map[string]bool{}
	for i, e := range first {
		if ids[e.ID] || ids[other[i].ID] || e.ID == other[i].ID {
			t.Fatalf("event id %s or %s used twice", e.ID, other[i].ID)
		}
		ids[e.ID], ids[other[i].ID] = true, true
		if !strings.HasPrefix(e.ID, a+"-") || e.Batch != a || len(e.ID) > maxAttr {
			t.Fatalf("event %s of batch %s", e.ID, e.Batch)
		}
	}
}
