package imgedge

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
)

// forwardAttempts is how many zones a busy node tries: the nearest, then
// once more in the next one.
const forwardAttempts = 2

// forward hands the request to the nearest healthy zone and streams its
// answer to the client. It reports false when no zone could take it, with
// nothing written.
func (rq *imageRequest) forward() bool {
	ir := rq.ir
	for i, peer := range ir.balancer.Pick() {
		if i == forwardAttempts {
			break
		}
		began := time.Now()
		ok := rq.forwardTo(peer)
		ir.balancer.Report(peer, ok, time.Since(began))
		if ok {
			ir.metrics.forwards.WithLabelValues("ok").Inc()
			return true
		}
		ir.metrics.forwards.WithLabelValues("failed").Inc()
	}
	return false
}

// forwardTo tries one peer. A transport error or a 5xx is a failure, and
// nothing has been written to the client then.
func (rq *imageRequest) forwardTo(peer balancer.Peer) bool {
	ir := rq.ir
	ctx, cancel := context.WithTimeout(rq.r.Context(), time.Duration(ir.FetchTimeout))
	defer cancel()
	// The peer gets the request as the client sent it, before any rewrite
	// (it applies the same config).
	if err := balancer.Forward(ctx, peer, rq.client, ir.peerSecret, ir.node, rq.w); err != nil {
		ir.logger.Debug("forwarding failed", zap.String("peer", peer.ID), zap.String("zone", peer.Zone), zap.Error(err))
		return false
	}
	return true
}

// zonesCollector exports what the node knows of its zones, from the live
// balancers of the process.
type zonesCollector struct{ peers, ejected, ejections, discoveryErrors, busy *prometheus.Desc }

func newZonesCollector() *zonesCollector {
	return &zonesCollector{
		peers:           prometheus.NewDesc("imgedge_zone_peers", "Healthy peers known in each zone.", []string{"zone"}, nil),
		ejected:         prometheus.NewDesc("imgedge_zone_ejected_peers", "Peers ejected by outlier detection right now.", nil, nil),
		ejections:       prometheus.NewDesc("imgedge_zone_ejections_total", "Peers ejected after consecutive failures.", nil, nil),
		discoveryErrors: prometheus.NewDesc("imgedge_zone_discovery_errors_total", "Failed Consul queries (the last known peers are kept).", nil, nil),
		busy:            prometheus.NewDesc("imgedge_zone_busy", "1 while this node tells Consul it is saturated.", nil, nil),
	}
}

func (c *zonesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peers, c.ejected, c.ejections, c.discoveryErrors, c.busy} {
		ch <- d
	}
}

func (c *zonesCollector) Collect(ch chan<- prometheus.Metric) {
	eachPooled(balancers, func(b *balancer.Balancer) {
		st := b.Stats()
		for zone, n := range st.Peers {
			ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(n), zone)
		}
		busy := 0.0
		if st.Busy {
			busy = 1
		}
		ch <- prometheus.MustNewConstMetric(c.ejected, prometheus.GaugeValue, float64(st.Ejected))
		ch <- prometheus.MustNewConstMetric(c.ejections, prometheus.CounterValue, float64(st.Ejections))
		ch <- prometheus.MustNewConstMetric(c.discoveryErrors, prometheus.CounterValue, float64(st.DiscoveryErrors))
		ch <- prometheus.MustNewConstMetric(c.busy, prometheus.GaugeValue, busy)
	})
}
