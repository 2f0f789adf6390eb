package metering

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// boundsRollup is a rollup event whose data fields are the defaults below
// with the overrides given (field, JSON value, field, JSON value, ...).
func boundsRollup(id string, overrides ...string) string {
	fields := []string{"status", "200", "source_bytes", "1000", "output_bytes", "100", "output_pixels", "10",
		"cpu_ms", "1.5", "wall_ms", "2", "requests", "5", "hits", "2"}
	for i := 0; i+1 < len(overrides); i += 2 {
		found := false
		for j := 0; j < len(fields); j += 2 {
			if fields[j] == overrides[i] {
				fields[j+1], found = overrides[i+1], true
			}
		}
		if !found {
			panic("no field " + overrides[i])
		}
	}
	var data strings.Builder
	data.WriteString(`{"tenant":"acme","cache_status":"hit"`)
	for j := 0; j < len(fields); j += 2 {
		fmt.Fprintf(&data, `,%q:%s`, fields[j], fields[j+1])
	}
	data.WriteString("}")
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"imgedge/edge-1","type":"com.imgedge.usage.rollup",`+
		`"time":"2026-03-01T10:15:00Z","subject":"acme","data":%s}`, id, data.String())
}

// boundCases are events at, past and around the per-event maxima; msg is
// empty for those the collector takes, else what its refusal names.
var boundCases = []struct {
	name      string
	overrides []string
	msg       string
}{
	{"requests at the maximum", []string{"requests", "1000000000000"}, ""},
	{"requests one past the maximum", []string{"requests", "1000000000001"}, "data.requests is over the maximum"},
	{"requests of 2^63-1", []string{"requests", "9223372036854775807"}, "data.requests is over the maximum"},
	{"negative requests", []string{"requests", "-1"}, "data.requests is negative"},
	{"requests of -2^63", []string{"requests", "-9223372036854775808"}, "data.requests is negative"},
	{"requests of 2^64, beyond int64", []string{"requests", "18446744073709551616"}, "data.requests is number 18446744073709551616: want an integer from 0 to 1000000000000"},
	{"requests of 1e30", []string{"requests", "1e30"}, "data.requests is number 1e30"},
	{"requests of 1.5", []string{"requests", "1.5"}, "data.requests is number 1.5: want an integer"},
	{"requests of 5.0", []string{"requests", "5.0"}, "data.requests is number 5.0: want an integer"},
	{"requests as a string", []string{"requests", `"5"`}, "data.requests is string: want an integer"},
	{"hits at the maximum", []string{"requests", "1000000000000", "hits", "1000000000000"}, ""},
	{"hits one past the maximum", []string{"requests", "1000000000000", "hits", "1000000000001"}, "data.hits is over the maximum"},
	{"hits of 2^63-1", []string{"hits", "9223372036854775807"}, "data.hits is over the maximum"},
	{"source bytes at the maximum", []string{"source_bytes", "1000000000000000"}, ""},
	{"source bytes one past the maximum", []string{"source_bytes", "1000000000000001"}, "data.source_bytes is over the maximum"},
	{"source bytes of 2^63-1", []string{"source_bytes", "9223372036854775807"}, "data.source_bytes is over the maximum"},
	{"negative source bytes", []string{"source_bytes", "-9223372036854775808"}, "data.source_bytes is negative"},
	{"output bytes at the maximum", []string{"output_bytes", "1000000000000000"}, ""},
	{"output bytes one past the maximum", []string{"output_bytes", "1000000000000001"}, "data.output_bytes is over the maximum"},
	{"output bytes of 1e30", []string{"output_bytes", "1e30"}, "data.output_bytes is number 1e30"},
	{"output pixels at the maximum", []string{"output_pixels", "1000000000000000"}, ""},
	{"output pixels one past the maximum", []string{"output_pixels", "1000000000000001"}, "data.output_pixels is over the maximum"},
	{"output pixels of 2^64", []string{"output_pixels", "18446744073709551616"}, "data.output_pixels is number 18446744073709551616"},
	{"output pixels of 0.5", []string{"output_pixels", "0.5"}, "data.output_pixels is number 0.5: want an integer"},
	{"cpu time at the maximum", []string{"cpu_ms", "1000000000000"}, ""},
	{"cpu time just past the maximum", []string{"cpu_ms", "1000000000000.01"}, "data.cpu_ms is over the maximum"},
	{"cpu time of 1e300", []string{"cpu_ms", "1e300"}, "data.cpu_ms is over the maximum"},
	{"cpu time of 1e400, beyond float64", []string{"cpu_ms", "1e400"}, "data.cpu_ms is number 1e400: want a number from 0 to 1000000000000"},
	{"negative cpu time", []string{"cpu_ms", "-1e-9"}, "data.cpu_ms is negative"},
	{"wall time at the maximum", []string{"wall_ms", "1e12"}, ""},
	{"wall time past the maximum", []string{"wall_ms", "1000000000001"}, "data.wall_ms is over the maximum"},
	{"wall time of 2^63-1", []string{"wall_ms", "9223372036854775807"}, "data.wall_ms is over the maximum"},
	{"status at the maximum", []string{"status", "999"}, ""},
	{"status past the maximum", []string{"status", "1000"}, "data.status is over the maximum"},
	{"status of 2^63", []string{"status", "9223372036854775808"}, "data.status is number 9223372036854775808"},
	{"status of 200.5", []string{"status", "200.5"}, "data.status is number 200.5: want an integer from 0 to 999"},
	{"status as a string", []string{"status", `"200"`}, "data.status is string"},
	{"a 5000-digit number", []string{"requests", strings.Repeat("9", 5000)}, "data.requests is number 999"},
}

func TestCollectorBoundsEveryNumberOfAnEvent(t *testing.T) {
	for _, tt := range boundCases {
		event := boundsRollup("b1", tt.overrides...)
		if tt.msg == "" {
			t.Run(tt.name+" is stored", func(t *testing.T) {
				c, s := newTestCollector(t)
				rec, out := post(t, c, BatchContentType, "["+event+"]")
				if rec.Code != http.StatusOK || out["new"] != 1.0 || out["refused"] != nil {
					t.Fatalf("status %d %v, want 200 with the event stored", rec.Code, out)
				}
				if b := usage(t, s, Query{From: t0, To: t0.Add(time.Hour), Step: time.Hour}); len(b) != 1 || b[0].Saturated {
					t.Fatalf("stored %+v", b)
				}
			})
			continue
		}
		t.Run(tt.name+" alone is a 400 naming the field", func(t *testing.T) {
			c, s := newTestCollector(t)
			rec, out := post(t, c, BatchContentType, "["+event+"]")
			msg, _ := out["error"].(string)
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != "application/json" ||
				out["event"] != 0.0 || !strings.Contains(msg, tt.msg) || len(msg) > 300 {
				t.Fatalf("status %d %v, want 400 naming event 0 with %q", rec.Code, out, tt.msg)
			}
			if b := usage(t, s, Query{From: t0, To: t0.Add(time.Hour), Step: time.Hour}); len(b) != 0 {
				t.Errorf("stored %+v", b)
			}
		})
	}
}

// TestCollectorStoresTheGoodEventsOfABatchMixedWithBadOnes posts every
// case of boundCases in one batch, between good events: the good ones and
// those at the maxima are stored, each bad one is refused alone, by index,
// naming its field, and a replay changes nothing.
func TestCollectorStoresTheGoodEventsOfABatchMixedWithBadOnes(t *testing.T) {
	c, s := newTestCollector(t)
	var (
		events  []string
		wantBad = map[int]string{}
		stored  int
	)
	for i, tt := range boundCases {
		events = append(events, boundsRollup(fmt.Sprint("good-", i)))
		stored++
		if tt.msg != "" {
			wantBad[len(events)] = tt.msg
		} else {
			stored++
		}
		events = append(events, boundsRollup(fmt.Sprint("case-", i), tt.overrides...))
	}
	body := "[" + strings.Join(events, ",") + "]"
	for _, round := range []string{"first", "replay"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", BatchContentType)
		c.ServeHTTP(rec, req)
		var res IngestResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d %s", round, rec.Code, rec.Body)
		}
		wantNew := stored
		if round == "replay" {
			wantNew = 0
		}
		if res.Received != len(events) || res.New != wantNew || len(res.Refused) != len(wantBad) {
			t.Fatalf("%s: received %d, new %d, refused %d; want %d, %d, %d",
				round, res.Received, res.New, len(res.Refused), len(events), wantNew, len(wantBad))
		}
		for _, r := range res.Refused {
			if msg, ok := wantBad[r.Event]; !ok || !strings.Contains(r.Error, msg) {
				t.Errorf("%s: refused event %d (%s), want %q", round, r.Event, r.Error, msg)
			}
		}
	}
	b := usage(t, s, Query{From: t0, To: t0.Add(time.Hour), Step: time.Hour})
	if len(b) != 1 || b[0].Saturated || b[0].Requests != 2*MaxEventRequests+int64(stored-2)*5 {
		t.Fatalf("buckets %+v", b)
	}
}

func TestCollectorRefusesTimesItCannotStore(t *testing.T) {
	c, _ := newTestCollector(t)
	for _, at := range []string{"1677-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		event := strings.Replace(boundsRollup("t1"), "2026-03-01T10:15:00Z", at, 1)
		rec, out := post(t, c, BatchContentType, "["+event+"]")
		if msg, _ := out["error"].(string); rec.Code != http.StatusBadRequest || !strings.Contains(msg, "out of range") {
			t.Errorf("time %s: %d %v, want 400 out of range", at, rec.Code, out)
		}
	}
}

// boundsSuite checks, against one store, that sums of many events at the
// per-event maxima, and of values stored before the collector bounded
// them, are answered 200 by the usage API, exact or saturated.
func boundsSuite(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	atMax := func(id string, at time.Time) Event {
		return Event{SpecVersion: "1.0", ID: id, Source: "imgedge/bounds", Type: TypeRollup, Time: at, Subject: "acme",
			Data: EventData{Tenant: "acme", Status: MaxStatus, Requests: MaxEventRequests, Hits: MaxEventRequests,
				SourceBytes: MaxEventBytes, OutputBytes: MaxEventBytes, OutputPixels: MaxEventPixels,
				CPUMillis: MaxEventMillis, WallMillis: MaxEventMillis}}
	}
	// get asks the usage API of a collector on s, as the dashboard does.
	get := func(t *testing.T, s Store, query string) []Bucket {
		t.Helper()
		c := &Collector{Store: s}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/usage"+query, nil))
		var out struct{ Buckets []Bucket }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("usage%s: %d %s", query, rec.Code, rec.Body)
		}
		return out.Buckets
	}
	const window = "?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&step=24h"

	t.Run("9223 events at the maxima sum exactly, 9224 saturate", func(t *testing.T) {
		s := open(t)
		var events []Event
		for i := range 9224 {
			events = append(events, atMax(fmt.Sprint("m", i), t0.Add(time.Duration(i)*time.Second)))
		}
		if _, err := s.Insert(ctx, events[:9223]); err != nil {
			t.Fatal(err)
		}
		b := get(t, s, window)
		const n = 9223
		want := Bucket{Tenant: "acme", Start: t0.Truncate(24 * time.Hour), Requests: n * MaxEventRequests, Hits: n * MaxEventRequests,
			BytesIn: n * MaxEventBytes, BytesOut: n * MaxEventBytes, Pixels: n * MaxEventPixels, CPUMillis: n * MaxEventMillis, HitRatio: 1}
		if len(b) != 1 || !b[0].Start.Equal(want.Start) {
			t.Fatalf("buckets %+v", b)
		}
		b[0].Start = want.Start
		if b[0] != want {
			t.Fatalf("9223 events\n got %+v\nwant %+v", b[0], want)
		}

		if _, err := s.Insert(ctx, events[9223:]); err != nil {
			t.Fatal(err)
		}
		b = get(t, s, window)
		if len(b) != 1 || !b[0].Saturated || b[0].BytesIn != math.MaxInt64 || b[0].BytesOut != math.MaxInt64 ||
			b[0].Pixels != math.MaxInt64 || b[0].Requests != (n+1)*MaxEventRequests || b[0].CPUMillis != (n+1)*MaxEventMillis {
			t.Fatalf("9224 events: %+v, want bytes and pixels saturated, requests and cpu exact", b)
		}
		// The all-tenant view and a finer step answer too.
		if b := get(t, s, "?tenant=acme&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&step=1m"); len(b) == 0 {
			t.Fatal("no buckets by the minute")
		}
	})

	t.Run("values stored before the bounds are answered saturated, not failed", func(t *testing.T) {
		s := open(t)
		var events []Event
		for i := range 3 {
			e := atMax(fmt.Sprint("old", i), t0)
			e.Data.Requests, e.Data.Hits = math.MaxInt64, math.MaxInt64
			e.Data.SourceBytes, e.Data.OutputBytes, e.Data.OutputPixels = math.MaxInt64, math.MaxInt64, math.MaxInt64
			e.Data.CPUMillis = math.MaxFloat64
			events = append(events, e)
		}
		other := reqEvent("beta-1", "beta", t0, "hit")
		if _, err := s.Insert(ctx, append(events, other)); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{window, window + "&tenant=acme"} {
			b := get(t, s, q)
			acme := b[0]
			if acme.Tenant != "acme" || !acme.Saturated || acme.Requests != math.MaxInt64 || acme.Hits != math.MaxInt64 ||
				acme.BytesIn != math.MaxInt64 || acme.Pixels != math.MaxInt64 || acme.CPUMillis != 3*MaxEventMillis || acme.HitRatio != 1 {
				t.Errorf("usage%s: %+v", q, b)
			}
		}
		if b := get(t, s, window+"&tenant=beta"); len(b) != 1 || b[0].Requests != 1 || b[0].Saturated {
			t.Errorf("the other tenant: %+v", b)
		}
	})
}

func TestJoinLimbs(t *testing.T) {
	for _, tt := range []struct {
		name        string
		hi, mid, lo int64
		want        int64
		held        bool
	}{
		{"zero", 0, 0, 0, 0, false},
		{"one value of 2^63-1", 1<<21 - 1, 1<<21 - 1, 1<<21 - 1, math.MaxInt64, false},
		{"two values of 2^63-1", 2 * (1<<21 - 1), 2 * (1<<21 - 1), 2 * (1<<21 - 1), math.MaxInt64, true},
		{"limb sums at the int64 range", math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, true},
		{"limb sums past 21 bits", 1, 1 << 30, 1 << 30, 1<<42 + 1<<51 + 1<<30, false},
		{"a high limb past the quick path", 1<<20 + 5, 0, 0, 1<<62 + 5<<42, false},
		{"a low limb past the quick path", 0, 0, math.MaxInt64 - 5, math.MaxInt64 - 5, false},
		{"a total just past 2^63-1", 1<<21 - 1, 1<<21 - 1, 1 << 21, math.MaxInt64, true},
		{"a negative total", -(1 << 21), 0, 0, math.MinInt64, false},
		{"below the int64 range", -(1 << 22), 0, 0, math.MinInt64, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, held := joinLimbs(tt.hi, tt.mid, tt.lo)
			if got != tt.want || held != tt.held {
				t.Errorf("joinLimbs(%d, %d, %d) = %d, %v; want %d, %v", tt.hi, tt.mid, tt.lo, got, held, tt.want, tt.held)
			}
		})
	}
}

// TestEdgeSendsOnlyEventsTheCollectorTakes folds journal frames whose
// sums are past the per-event maxima (usage summed in memory, records with
// absurd or negative values) and checks that every event the edge would
// send passes the collector's checks, adds up to what was recorded, and
// has a stable id of its own.
func TestEdgeSendsOnlyEventsTheCollectorTakes(t *testing.T) {
	type sums struct{ requests, hits, sourceBytes, outputBytes, pixels, cpuNs, wallNs int64 }
	for _, tt := range []struct {
		name   string
		frames []sums
		status int
		events int
		want   sums // the totals sent; zero: the recorded ones
		held   bool
	}{
		{name: "a rollup within the maxima is one event", frames: []sums{{5, 2, 1000, 100, 10, 1e6, 2e6}}, status: 200, events: 1},
		{name: "requests past the maximum are split", frames: []sums{{2*MaxEventRequests + 1, MaxEventRequests + 7, 1, 1, 1, 1, 1}}, status: 200, events: 3},
		{name: "bytes of 2^63-1 over a million requests are split",
			frames: []sums{{1e6, 0, math.MaxInt64, math.MaxInt64, math.MaxInt64, 0, 0}}, status: 304, events: 9224},
		{name: "sums that would wrap are held at 2^63-1, then split",
			frames: []sums{{1e6, 1e6, math.MaxInt64, 1, 1, math.MaxInt64, 0}, {1e6, 1e6, math.MaxInt64, 1, 1, math.MaxInt64, 0}},
			status: 200, events: 9224, want: sums{2e6, 2e6, math.MaxInt64, 2, 2, math.MaxInt64, 0}},
		{name: "wall time past what its requests can carry is held at the maxima",
			frames: []sums{{3, 0, 0, 0, 0, 0, math.MaxInt64}}, status: 200, events: 3,
			want: sums{3, 0, 0, 0, 0, 0, 3 * maxEventNanos}, held: true},
		{name: "negative values count as 0",
			frames: []sums{{1, 0, -5, -1, math.MinInt64, -1, -1}, {1, 1, 10, 10, 10, 10, 10}},
			status: 200, events: 1, want: sums{2, 1, 10, 10, 10, 10, 10}},
		{name: "hits past requests are held at requests", frames: []sums{{2, 5, 0, 0, 0, 0, 0}}, status: 200, events: 1, want: sums{2, 2, 0, 0, 0, 0, 0}},
		{name: "a status no HTTP answer has is sent as 0", frames: []sums{{1, 0, 0, 0, 0, 0, 0}}, status: 1 << 40, events: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			var recorded sums
			for _, f := range tt.frames {
				r := Record{Tenant: "acme", Time: t0, Status: tt.status, CacheStatus: "hit", SourceBytes: f.sourceBytes,
					OutputBytes: f.outputBytes, OutputPixels: f.pixels, CPU: time.Duration(f.cpuNs), Wall: time.Duration(f.wallNs)}
				data = appendRecordFrame(data, &r, &recordSums{requests: f.requests, hits: f.hits})
				recorded = sums{recorded.requests + f.requests, recorded.hits + f.hits, recorded.sourceBytes + f.sourceBytes,
					recorded.outputBytes + f.outputBytes, recorded.pixels + f.pixels, recorded.cpuNs + f.cpuNs, recorded.wallNs + f.wallNs}
			}
			want := tt.want
			if want == (sums{}) {
				want = recorded
			}
			u := aggregate(data)
			if len(u.rollups) != 1 || u.bad != 0 {
				t.Fatalf("%d rollups, %d bad frames", len(u.rollups), u.bad)
			}
			const seg = "019ca8d72d7b-702cb8119452cd20-00000001"
			evs, held := u.rollups[0].events("imgedge/test", seg)
			again, _ := u.rollups[0].events("imgedge/test", seg)
			if len(evs) != tt.events || held != tt.held {
				t.Fatalf("%d events, held %v; want %d, %v", len(evs), held, tt.events, tt.held)
			}
			var (
				got      sums
				cpu, wal float64
				ids      = map[string]bool{}
			)
			for i := range evs {
				j, err := json.Marshal(&evs[i])
				if err != nil {
					t.Fatal(err)
				}
				var e Event
				if err := decodeEvent(j, &e); err != nil {
					t.Fatalf("event %d would be refused: %v\n%s", i, err, j)
				}
				if ids[e.ID] || e.ID != again[i].ID || len(e.ID) > maxAttr {
					t.Fatalf("event %d: id %s used twice, unstable or too long", i, e.ID)
				}
				ids[e.ID] = true
				if tt.status > MaxStatus && e.Data.Status != 0 {
					t.Errorf("status %d sent as %d", tt.status, e.Data.Status)
				}
				got.requests += e.Data.Requests
				got.hits += e.Data.Hits
				got.sourceBytes = satAdd(got.sourceBytes, e.Data.SourceBytes)
				got.outputBytes = satAdd(got.outputBytes, e.Data.OutputBytes)
				got.pixels = satAdd(got.pixels, e.Data.OutputPixels)
				cpu += e.Data.CPUMillis
				wal += e.Data.WallMillis
			}
			if evs[0].ID != rollupID(seg, u.rollups[0].keyBytes) {
				t.Errorf("the first event's id %s is not the rollup's", evs[0].ID)
			}
			if got.requests != want.requests || got.hits != want.hits || got.sourceBytes != want.sourceBytes ||
				got.outputBytes != want.outputBytes || got.pixels != want.pixels {
				t.Errorf("sent %+v, want %+v", got, want)
			}
			for _, ms := range []struct {
				name      string
				got, want float64
			}{{"cpu", cpu, millis(time.Duration(want.cpuNs))}, {"wall", wal, millis(time.Duration(want.wallNs))}} {
				if math.Abs(ms.got-ms.want) > 1e-9*ms.want {
					t.Errorf("%s sent %v ms, want %v", ms.name, ms.got, ms.want)
				}
			}
		})
	}
}

// TestMeterShipsUsagePastTheMaximaSoTheCollectorTakesItAll: records whose
// sums are past a per-event maximum reach a real collector whole, none
// refused or rejected, in POSTs of at most maxPostEvents events.
func TestMeterShipsUsagePastTheMaximaSoTheCollectorTakesItAll(t *testing.T) {
	c, s := newTestCollector(t)
	var posts, most int
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, r)
		var res IngestResult
		_ = json.Unmarshal(rec.Body.Bytes(), &res)
		mu <- struct{}{}
		posts++
		most = max(most, res.Received)
		<-mu
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()

	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.Collector = srv.URL + "/api/v1/events"
	const n = 3000
	cfg.BatchRecords = n + 1
	m := openMeter(t, cfg)
	for i := range n {
		r := sampleRecord("acme", clock)
		r.SourceBytes = MaxEventBytes / 2 // 1500 petabytes in all: 1500 events
		r.OutputBytes = -1                // counts as 0
		if i == 0 {
			r.Status = 1000
		}
		m.Record(r)
	}
	m.Record(sampleRecord("beta", clock))
	waitFor(t, "the batch shipped", func() bool { return m.Stats().ShippedRequests == n+1 })
	st := m.Stats()
	if st.RefusedEvents != 0 || st.Rejected != 0 {
		t.Fatalf("stats %+v: events refused or rejected", st)
	}
	mu <- struct{}{}
	if posts < 2 || most > maxPostEvents {
		t.Errorf("%d POSTs of at most %d events, want several of at most %d", posts, most, maxPostEvents)
	}
	<-mu
	b := usage(t, s, Query{From: clock.Now().Add(-time.Hour), To: clock.Now().Add(time.Hour), Step: 2 * time.Hour})
	if len(b) != 2 || b[0].Tenant != "acme" || b[0].Requests != n || b[0].BytesIn != n*(MaxEventBytes/2) || b[0].BytesOut != 0 ||
		b[0].Saturated || b[1].Requests != 1 {
		t.Fatalf("buckets %+v", b)
	}
}
