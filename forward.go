package imgedge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
)

// loopToken is imgedge's CDN-Loop entry (RFC 8586). A request that carries
// it was forwarded by another node and is never forwarded again.
const loopToken = "imgedge"

// forwardAttempts is how many zones a busy node tries: the nearest, then
// once more in the next one.
const forwardAttempts = 2

// hopByHop are the headers that belong to one connection (RFC 9110 7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}

// forwardClient talks to peer nodes.
var forwardClient = &http.Client{
	Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

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
	// (it applies the same config), with every end-to-end header: the same
	// site, tenant, signature, credentials and Accept.
	// (Caddy keeps the original URL; headers and Host are the request's.)
	orig := rq.r
	target, err := peerURL(peer.URL, rq.client.URL)
	if err != nil {
		ir.logger.Warn("not forwarding", zap.String("peer", peer.ID), zap.Error(err))
		return false
	}
	req, err := http.NewRequestWithContext(ctx, rq.r.Method, peer.URL, nil)
	if err != nil {
		return false
	}
	req.URL = target
	req.Header = orig.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	for _, h := range orig.Header.Values("Connection") {
		for name := range strings.SplitSeq(h, ",") {
			req.Header.Del(strings.TrimSpace(name))
		}
	}
	for _, h := range hopByHop {
		req.Header.Del(h)
	}
	req.Host = orig.Host
	req.Header.Set("CDN-Loop", balancer.AppendLoop(strings.Join(orig.Header.Values("CDN-Loop"), ","), loopToken))
	signPeerRequest(req, ir.peerSecret, time.Now())
	if ip, _, err := net.SplitHostPort(rq.r.RemoteAddr); err == nil {
		if prior := strings.Join(orig.Header.Values("X-Forwarded-For"), ", "); prior != "" {
			ip = prior + ", " + ip
		}
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := forwardClient.Do(req)
	if err != nil {
		ir.logger.Debug("forwarding failed", zap.String("peer", peer.ID), zap.String("zone", peer.Zone), zap.Error(err))
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		ir.logger.Debug("peer answered with an error", zap.String("peer", peer.ID), zap.Int("status", resp.StatusCode))
		return false
	}
	h := rq.w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	h.Set("Imgedge-Forwarded-By", ir.node)
	rq.w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(rq.w, resp.Body); err != nil {
		ir.logger.Debug("streaming a forwarded answer", zap.Error(err))
	}
	return true
}

// peerURL is the address of a request forwarded to peer: the peer's own
// scheme and host, and the request's path and query, nothing else of the
// request target. Whatever a client puts in its request line (user-info,
// an absolute or opaque target) can never choose where the request goes.
func peerURL(peer string, target *url.URL) (*url.URL, error) {
	base, err := url.Parse(peer)
	if err != nil {
		return nil, fmt.Errorf("peer address %q: %v", peer, err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil {
		return nil, fmt.Errorf("peer address %q is not an http(s)://host[:port] URL", peer)
	}
	if target.Opaque != "" || !strings.HasPrefix(target.Path, "/") {
		return nil, fmt.Errorf("request target %q is not a path", target)
	}
	return &url.URL{Scheme: base.Scheme, Host: base.Host, Path: target.Path, RawPath: target.RawPath, RawQuery: target.RawQuery, ForceQuery: target.ForceQuery}, nil
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
