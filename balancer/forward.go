package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// hopByHop are the headers that belong to one connection (RFC 9110 7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}

// ErrPeerFailed is a peer's 5xx answer: nothing was written to the client.
var ErrPeerFailed = errors.New("the peer answered with a server error")

// Forward sends in (the request as the client sent it, before any rewrite)
// to peer as the hop chain hops (its last HopForward), signed, and streams
// the peer's answer to w, with header Imgedge-Forwarded-By: node. The peer
// gets the client's method, path, query and end-to-end headers, and the
// same Host; the address is the peer's own (see PeerURL). The peer has
// within to answer or to say it took the request, then what it said it
// may take (see send); accepted hears of that. It returns an error, with
// nothing written to w, when the peer could not be reached, did not
// answer in time or answered 5xx.
func (p *Peering) Forward(ctx context.Context, peer Peer, in *http.Request, hops Hops, node string, within time.Duration, accepted func(time.Duration), w http.ResponseWriter) error {
	req, err := peerRequest(ctx, peer, in)
	if err != nil {
		return err
	}
	p.sign(req, peer.ID, hops)
	resp, err := p.send(req, HopForward, peer, within, accepted)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// 508 is the peer's answer, not its failure: the request is in a loop
	// (through some other proxy), and no other peer would answer better.
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusLoopDetected {
		drain(resp)
		return fmt.Errorf("%w: %d", ErrPeerFailed, resp.StatusCode)
	}
	// An answer of a known, image-like size is read whole before a byte
	// of it is written: a peer that dies in the middle of it is a failed
	// forward, and the next zone is asked, not a cut answer.
	var body []byte
	if resp.ContentLength >= 0 && resp.ContentLength <= maxBufferedAnswer {
		if body, err = ReadAnswer(resp, resp.ContentLength); err != nil {
			return fmt.Errorf("%w: %v", ErrPeerFailed, err)
		}
	}
	h := w.Header()
	for k, v := range endToEnd(resp.Header) {
		h[k] = v
	}
	h.Del(AnswerHeader)
	h.Del(VariantHeader)
	h.Set("Imgedge-Forwarded-By", node)
	w.WriteHeader(resp.StatusCode)
	// The client may go away; the answer was ours to give.
	if body != nil {
		_, _ = w.Write(body)
	} else {
		_, _ = io.Copy(w, resp.Body)
	}
	return nil
}

// maxBufferedAnswer is the largest forwarded answer read whole before it
// is written; larger ones stream.
const maxBufferedAnswer = 8 << 20

// peerRequest is in (the request as the client sent it) addressed to
// peer, with this node's CDN-Loop entry on a line of its own after the
// client's, to be signed.
func peerRequest(ctx context.Context, peer Peer, in *http.Request) (*http.Request, error) {
	target, err := PeerURL(peer.URL, in.URL)
	if err != nil {
		return nil, err
	}
	req := (&http.Request{Method: in.Method, URL: target, Host: in.Host, Header: endToEnd(in.Header)}).WithContext(ctx)
	StripPeerHeaders(req.Header)
	req.Header.Add("CDN-Loop", LoopToken)
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := strings.Join(in.Header.Values("X-Forwarded-For"), ", "); prior != "" {
			ip = prior + ", " + ip
		}
		req.Header.Set("X-Forwarded-For", ip)
	}
	return req, nil
}

// drain reads what is left of a peer's answer, up to a bound, so the
// connection goes back to the pool.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
}

// DropConnectionFields removes from a request's header the fields its
// Connection header names: they are for this hop alone (RFC 9110 7.6.1),
// and a node that acted on them would answer what its peers, which never
// get them, do not.
func DropConnectionFields(h http.Header) {
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "Connection") {
				h.Del(name)
			}
		}
	}
}

// endToEnd is a copy of h without its hop-by-hop headers: the fixed list
// and those its Connection header names.
func endToEnd(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		return http.Header{}
	}
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopByHop {
		out.Del(name)
	}
	return out
}

// PeerURL is the address of a request forwarded to peer: the peer's own
// scheme and host, and the request's path and query, nothing else of the
// request target. Whatever a client puts in its request line (user-info,
// an absolute or opaque target) can never choose where the request goes.
func PeerURL(peer string, target *url.URL) (*url.URL, error) {
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
