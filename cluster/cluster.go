// Package cluster takes an image request across the nodes of its zone and
// the zones of the fleet: it asks the owner of a source in this zone
// (FromOwner), fetches originals through the shield zone (FromShield) and
// hands work to the nearest healthy zone when this node is busy
// (Forward). balancer finds the peers and signs the hops; this package
// makes the hops and relays their answers. The Caddy handler calls it
// through the Hops interface and knows nothing of peers.
package cluster

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/capture"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/variant"
)

// Hops is what an image request asks of the cluster: the one interface
// between the Caddy handler and the nodes beyond it.
type Hops interface {
	// FromOwner answers req from this node's cache or from the owner of
	// its source in this zone; answer writes a variant this node holds.
	// It reports false when this node is to do the work.
	FromOwner(h *Hop, req *variant.Request, answer func(*variant.Result) string) (answered bool, outcome string)
	// FromShield fetches h's original through the shield zone into fw,
	// and reports false, with nothing written, when the origin is to be
	// asked.
	FromShield(ctx context.Context, h *Hop, fw *capture.Writer) (bool, error)
	// Forward hands h to the nearest healthy zone and streams its answer
	// to the client, and reports false, with nothing written, when no
	// zone could take it.
	Forward(h *Hop) bool
}

// Cluster is this node's view of its zone and fleet. With a nil Balancer
// the node works alone: no hop is made.
type Cluster struct {
	Balancer *balancer.Balancer
	Peering  *balancer.Peering
	Engine   *variant.Engine
	// Sources is the process's budget for originals in flight, which an
	// owner's variant read whole to keep as a hot copy is leased from.
	Sources *budget.Budget
	Metrics *telemetry.Metrics
	Logger  *zap.Logger
	// Node names this node to the zone a request is forwarded to.
	Node string
	// Shield is the zone originals are fetched through; "": the origin.
	Shield       string
	FetchTimeout time.Duration
	QueueTimeout time.Duration
}

// Hop is one request as the cluster sees it.
type Hop struct {
	W      http.ResponseWriter
	Client *http.Request // as the client sent it, before any rewrite: what peers are sent
	Method string        // the route's method
	Start  time.Time
	Hops   balancer.Hops // the hops a peer's request made to get here; nil for a client's
	Loops  int           // imgedge's entries in CDN-Loop
	// OwnerKey is what the owner of the source is chosen by.
	OwnerKey string
	// Hints are the client hint headers the answer varies by.
	Hints []string
	// AsShield says a zone that shields through ours asks for the
	// original: never through a shield again.
	AsShield bool
}

// next is the hop chain of this request sent on as a hop of kind, and
// false when that hop is not to be made: a forwarded request is never
// forwarded again, and no request is sent on past MaxHops, counted by its
// hops or by its CDN-Loop (a client's entries included: a peer would
// refuse it as a loop).
func (h *Hop) next(kind string) (balancer.Hops, bool) {
	if h.Loops >= balancer.MaxHops {
		return nil, false
	}
	return h.Hops.Then(kind)
}

// relayAccepted tells the node that sent this request, if a node did,
// that a peer this node sent it on took it and may take bound over it:
// the chain waits as long as its last node needs.
func (h *Hop) relayAccepted(bound time.Duration) {
	if len(h.Hops) > 0 {
		balancer.Accepted(h.W, bound+time.Second)
	}
}

// WorkBound is the longest a node may take over a request before it
// answers or a peer it sends the request on says it took it (which the
// node relays): waiting for a slot twice (for the original, for a job:
// queue each), asking the owner (fetch to say it took it), fetching the
// original through the shield zone (each node it asks and the origin
// after them, fetch each), and processing (work), with a margin.
func WorkBound(queue, fetch, work time.Duration) time.Duration {
	return 2*queue + fetch + time.Duration(shieldAttempts+1)*fetch + work + 5*time.Second
}

// Conditionals are the request headers that would make an answer other
// than the whole original: a fetch for one drops them.
var Conditionals = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

var _ Hops = (*Cluster)(nil)
