package imgedge_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// tracedOrigin serves a 2400x1600 photo for every path and remembers the
// traceparent each fetch came with; a path with "slow" in it answers after
// 600 ms.
type tracedOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	parent map[string][]string // path → traceparent of each fetch
}

func newTracedOrigin(t *testing.T) *tracedOrigin {
	o := &tracedOrigin{parent: map[string][]string{}}
	photo := testimages.JPEG(testimages.Gradient(2400, 1600))
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.parent[r.URL.Path] = append(o.parent[r.URL.Path], r.Header.Get("Traceparent"))
		o.mu.Unlock()
		if strings.Contains(r.URL.Path, "slow") {
			time.Sleep(600 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(photo)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *tracedOrigin) traceparents(path string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.parent[path]...)
}

// tracedNode starts a node of zone with Caddy's tracing on, exporting to
// jaeger as service name.
func tracedNode(t *testing.T, jaeger *testenv.Jaeger, consul *testenv.Consul, zone, name, origin, clusterOptions, options string) *testenv.Caddy {
	t.Helper()
	for k, v := range jaeger.Env(name) {
		t.Setenv(k, v)
	}
	return hopNodeWith(t, consul, zone, name, origin, "", clusterOptions, `tracing {
		span "{http.request.method} {http.request.uri.path}"
	}
	image_resize {
		`+options+`
	}`)
}

// newTraceID is a fresh W3C trace id, and the traceparent of a client's
// sampled request in it.
func newTraceID(t *testing.T) (id, traceparent string) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id = hex.EncodeToString(b[:16])
	return id, "00-" + id + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// spanTree is one trace's spans, to ask questions of.
type spanTree []testenv.Span

func (tr spanTree) named(name, service string) []testenv.Span {
	var out []testenv.Span
	for _, s := range tr {
		if s.Name == name && (service == "" || s.Service == service) {
			out = append(out, s)
		}
	}
	return out
}

func (tr spanTree) byID(id string) (testenv.Span, bool) {
	for _, s := range tr {
		if s.SpanID == id {
			return s, true
		}
	}
	return testenv.Span{}, false
}

// under says whether s descends from the span ancestor.
func (tr spanTree) under(s testenv.Span, ancestor string) bool {
	for range len(tr) {
		if s.Parent == ancestor {
			return true
		}
		p, ok := tr.byID(s.Parent)
		if !ok {
			return false
		}
		s = p
	}
	return false
}

// one is the only span of name on service, or fails the test.
func (tr spanTree) one(t *testing.T, name, service string) testenv.Span {
	t.Helper()
	found := tr.named(name, service)
	if len(found) != 1 {
		t.Fatalf("%d spans %q on %s, want one; the trace:\n%s", len(found), name, service, tr)
	}
	return found[0]
}

// walk visits the spans depth first, each root (a span whose parent is
// not in the trace) and then its children, in the order they began.
func (tr spanTree) walk(visit func(s testenv.Span, depth int)) {
	var down func(s testenv.Span, depth int)
	down = func(s testenv.Span, depth int) {
		visit(s, depth)
		for _, c := range tr.children(s.SpanID) {
			down(c, depth+1)
		}
	}
	for _, s := range tr {
		if _, ok := tr.byID(s.Parent); !ok {
			down(s, 0)
		}
	}
}

// children are the spans whose parent is id, in the order they began.
func (tr spanTree) children(id string) []testenv.Span {
	var out []testenv.Span
	for _, s := range tr {
		if s.Parent == id {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b testenv.Span) int { return a.Start.Compare(b.Start) })
	return out
}

func (tr spanTree) String() string {
	var b strings.Builder
	tr.walk(func(s testenv.Span, depth int) {
		fmt.Fprintf(&b, "%s%s [%s] %s\n", strings.Repeat("  ", depth), s.Name, s.Service, s.Duration)
	})
	return b.String()
}

// childOf fails the test unless span is a direct child of parent.
func childOf(t *testing.T, tr spanTree, span, parent testenv.Span) {
	t.Helper()
	if span.Parent != parent.SpanID {
		t.Errorf("%s [%s] is not a child of %s [%s]; the trace:\n%s", span.Name, span.Service, parent.Name, parent.Service, tr)
	}
}

// tracedGet asks for url in a new trace of the client's and returns the
// answer and the trace id.
func tracedGet(t *testing.T, url string) (answer, string) {
	t.Helper()
	id, tp := newTraceID(t)
	return get(t, url, "Traceparent", tp), id
}

// hasAll says a trace holds spans from every one of services, and of
// every one of names.
func hasAll(services []string, names ...string) func([]testenv.Span) bool {
	return func(spans []testenv.Span) bool {
		for _, want := range services {
			if !spanTree(spans).hasService(want) {
				return false
			}
		}
		for _, n := range names {
			if len(spanTree(spans).named(n, "")) == 0 {
				return false
			}
		}
		return true
	}
}

func (tr spanTree) hasService(name string) bool {
	for _, s := range tr {
		if s.Service == name {
			return true
		}
	}
	return false
}

// originGotTraceOf fails the test unless the origin's fetch of path came
// with the trace id and the given parent span.
func originGotTraceOf(t *testing.T, o *tracedOrigin, path, traceID, parent string) {
	t.Helper()
	want := "00-" + traceID + "-" + parent + "-01"
	got := o.traceparents(path)
	for _, tp := range got {
		if tp == want {
			return
		}
	}
	t.Errorf("the origin's fetches of %s came with traceparent %q, want %q (the fetch span of that trace)", path, got, want)
}

func TestOneTraceFollowsAnImageAcrossNodesZonesAndTheOrigin(t *testing.T) {
	jaeger := testenv.StartJaeger(t)
	consul := testenv.StartConsul(t)
	origin := newTracedOrigin(t)
	s1 := tracedNode(t, jaeger, consul, "s", "s1", origin.URL, "", "")
	a1 := tracedNode(t, jaeger, consul, "a", "a1", origin.URL, "shield s", "")
	a2 := tracedNode(t, jaeger, consul, "a", "a2", origin.URL, "shield s", "")
	for _, n := range []*testenv.Caddy{a1, a2} {
		waitForZonePeers(t, n, "a", 1)
		waitForZonePeers(t, n, "s", 1)
	}
	_ = s1

	// A source a1 does not own: its answer names the owner, a2.
	var path, traceID string
	for i := range 20 {
		p := fmt.Sprintf("/p%d.jpg", i)
		a, id := tracedGet(t, a1.Base+p+"?w=300")
		if a.status != 200 {
			t.Fatalf("%s: %d %s", p, a.status, a.body)
		}
		if a.header.Get("Imgedge-Node") == "a2" {
			path, traceID = p, id
			break
		}
	}
	if path == "" {
		t.Fatal("a2 owns none of 20 sources")
	}

	t.Run("a miss asked of a non-owner: one trace, from the client through both nodes and the shield to the origin", func(t *testing.T) {
		tr := spanTree(jaeger.WaitTrace(traceID, hasAll([]string{"a1", "a2", "s1"}, "imgedge.encode", "imgedge.origin.fetch")))
		hop := tr.one(t, "imgedge.hop.owner", "a1")
		if hop.Kind != "client" || hop.Tags["imgedge.peer"] == nil {
			t.Errorf("the owner hop: kind %q, tags %v", hop.Kind, hop.Tags)
		}
		ownerServer := tr.named("GET "+path, "a2")
		if len(ownerServer) != 1 {
			t.Fatalf("%d server spans on a2 for %s; the trace:\n%s", len(ownerServer), path, tr)
		}
		childOf(t, tr, ownerServer[0], hop)
		render := tr.one(t, "imgedge.render", "a2")
		process := tr.one(t, "imgedge.process", "a2")
		decode := tr.one(t, "imgedge.decode+resize", "a2")
		encode := tr.one(t, "imgedge.encode", "a2")
		childOf(t, tr, process, render)
		childOf(t, tr, decode, process)
		childOf(t, tr, encode, process)
		if process.Tags["imgedge.resize.path"] != "direct" || encode.Tags["imgedge.output.format"] != "jpeg" {
			t.Errorf("process %v, encode %v: want the direct path and a JPEG", process.Tags, encode.Tags)
		}
		if !tr.under(tr.one(t, "imgedge.slot.wait", "a2"), render.SpanID) {
			t.Error("the slot wait is not part of the render")
		}
		// The original came through the shield zone, which asked the
		// origin: the origin's traceparent is the shield's fetch span.
		original := tr.one(t, "imgedge.original", "a2")
		shieldHop := tr.one(t, "imgedge.hop.shield", "a2")
		if !tr.under(shieldHop, original.SpanID) {
			t.Errorf("the shield hop is not under the original's span; the trace:\n%s", tr)
		}
		shieldServer := tr.named("GET "+path, "s1")
		if len(shieldServer) != 1 {
			t.Fatalf("%d server spans on s1; the trace:\n%s", len(shieldServer), tr)
		}
		childOf(t, tr, shieldServer[0], shieldHop)
		fetch := tr.one(t, "imgedge.origin.fetch", "s1")
		if !tr.under(fetch, shieldServer[0].SpanID) {
			t.Errorf("the shield's origin fetch is not under its request; the trace:\n%s", tr)
		}
		originGotTraceOf(t, origin, path, traceID, fetch.SpanID)
		if ownerServer[0].Tags["imgedge.node"] != "a2" || ownerServer[0].Tags["imgedge.hop"] != "owner" {
			t.Errorf("a2's request span says node %v, hop %v", ownerServer[0].Tags["imgedge.node"], ownerServer[0].Tags["imgedge.hop"])
		}
		if len(tr.named("imgedge.admission", "a1")) != 1 || len(tr.named("imgedge.cache.lookup", "a2")) != 1 {
			t.Errorf("admission on a1 or the lookup on a2 missing; the trace:\n%s", tr)
		}
		t.Logf("the trace of a miss through a non-owner:\n%s", tr)
		screenshotTrace(t, tr, "GET "+path+"?w=300 asked of a1, a non-owner; a2 owns it; s is the shield zone", "trace.jpg")
	})

	t.Run("a hit: the lookup found it, nothing was made", func(t *testing.T) {
		a, id := tracedGet(t, a2.Base+path+"?w=300")
		if a.status != 200 || !strings.Contains(a.header.Get("Server-Timing"), `trace;desc="`+id+`"`) {
			t.Fatalf("%d, Server-Timing %q: want the trace named", a.status, a.header.Get("Server-Timing"))
		}
		tr := spanTree(jaeger.WaitTrace(id, hasAll([]string{"a2"}, "imgedge.cache.lookup")))
		lookup := tr.one(t, "imgedge.cache.lookup", "a2")
		if lookup.Tags["imgedge.cache.result"] != "hit" || lookup.Tags["imgedge.cache.tier"] != "memory" {
			t.Errorf("the lookup's tags %v: want a memory hit", lookup.Tags)
		}
		if n := len(tr.named("imgedge.render", "")) + len(tr.named("imgedge.origin.fetch", "")); n != 0 {
			t.Errorf("a hit made or fetched something; the trace:\n%s", tr)
		}
	})

	t.Run("a local miss of the owner: its original from the originals cache, resized here", func(t *testing.T) {
		a, id := tracedGet(t, a2.Base+path+"?w=200")
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		tr := spanTree(jaeger.WaitTrace(id, hasAll([]string{"a2"}, "imgedge.encode")))
		if len(tr.named("imgedge.hop.owner", "")) != 0 || tr.hasService("a1") {
			t.Errorf("the owner asked another node; the trace:\n%s", tr)
		}
		if o := tr.one(t, "imgedge.original", "a2"); o.Tags["imgedge.original.from"] != "originals cache" {
			t.Errorf("the original's span says %v", o.Tags)
		}
		tr.one(t, "imgedge.decode+resize", "a2")
	})

	t.Run("a request that waited for another's fetch links to it", func(t *testing.T) {
		type sent struct {
			a  answer
			id string
		}
		first, second := make(chan sent, 1), make(chan sent, 1)
		go func() { a, id := tracedGet(t, a2.Base+"/slow-a.jpg?w=120"); first <- sent{a, id} }()
		time.Sleep(200 * time.Millisecond) // the first is waiting for the slow origin
		go func() { a, id := tracedGet(t, a2.Base+"/slow-a.jpg?w=130"); second <- sent{a, id} }()
		s1, s2 := <-first, <-second
		owner := s1.a.header.Get("Imgedge-Node") // the node both asked, which fetched once
		if s1.a.status != 200 || s2.a.status != 200 || s2.a.header.Get("Imgedge-Node") != owner {
			t.Fatalf("%d by %s, %d by %s", s1.a.status, owner, s2.a.status, s2.a.header.Get("Imgedge-Node"))
		}
		leader := spanTree(jaeger.WaitTrace(s1.id, hasAll([]string{owner, "s1"}, "imgedge.origin.fetch", "imgedge.encode")))
		waiter := spanTree(jaeger.WaitTrace(s2.id, hasAll([]string{owner}, "imgedge.original", "imgedge.encode")))
		if len(waiter.named("imgedge.origin.fetch", "")) != 0 {
			t.Fatalf("the second request fetched the original itself; its trace:\n%s", waiter)
		}
		leaderOriginal := leader.one(t, "imgedge.original", owner)
		waited := waiter.one(t, "imgedge.original", owner)
		if len(waited.Links) != 1 || waited.Links[0] != leaderOriginal.SpanID {
			t.Errorf("the waiting request's original span links to %v, want the fetching request's %s", waited.Links, leaderOriginal.SpanID)
		}
		if waited.Tags["imgedge.original.from"] != "another request's fetch" {
			t.Errorf("its tags %v", waited.Tags)
		}
	})
}

func TestATraceFollowsARequestForwardedToAnotherZone(t *testing.T) {
	jaeger := testenv.StartJaeger(t)
	consul := testenv.StartConsul(t)
	origin := newTracedOrigin(t)
	tracedNode(t, jaeger, consul, "g", "g1", origin.URL, "", "")
	f1 := tracedNode(t, jaeger, consul, "f", "f1", origin.URL, "prefer g", busyNode)
	waitForPeers(t, f1, "g")

	// Distinct, heavy requests at once: the busy zone forwards some.
	const n = 8
	type sent struct {
		a  answer
		id string
	}
	results := make(chan sent, n)
	for i := range n {
		go func() {
			a, id := tracedGet(t, fmt.Sprintf("%s/f%d.jpg?w=%d&blur=3", f1.Base, i, 900+i))
			results <- sent{a, id}
		}()
	}
	var forwarded *sent
	for range n {
		s := <-results
		if s.a.header.Get("Imgedge-Forwarded-By") == "f1" && s.a.status == 200 && forwarded == nil {
			forwarded = &s
		}
	}
	if forwarded == nil {
		t.Fatal("zone f forwarded none of the burst")
	}
	tr := spanTree(jaeger.WaitTrace(forwarded.id, hasAll([]string{"f1", "g1"}, "imgedge.encode", "imgedge.origin.fetch", "imgedge.hop.forward")))
	hop := tr.one(t, "imgedge.hop.forward", "f1")
	if hop.Tags["imgedge.peer.zone"] != "g" {
		t.Errorf("the forward's tags %v: want zone g", hop.Tags)
	}
	var server testenv.Span
	for _, s := range tr {
		if s.Service == "g1" && s.Kind == "server" {
			server = s
		}
	}
	childOf(t, tr, server, hop)
	fetch := tr.one(t, "imgedge.origin.fetch", "g1")
	if !tr.under(tr.one(t, "imgedge.encode", "g1"), server.SpanID) || !tr.under(fetch, server.SpanID) {
		t.Errorf("g1's work is not under its request; the trace:\n%s", tr)
	}
	originGotTraceOf(t, origin, fmt.Sprint(fetch.Tags["url.path"]), forwarded.id, fetch.SpanID)
	t.Logf("the trace of a forwarded request:\n%s", tr)
}
