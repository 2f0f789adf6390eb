package balancer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The trust between nodes. A node proves that it sent a request to a peer
// with PeerAuthHeader: a MAC under the cluster's shared secret over
// everything that makes the peer's answer what it is (method, host,
// target, the headers in signedHeaders, the credentials' hash), the hop
// chain (HopHeader), the node it is meant for, its time and a random
// nonce. The peer accepts it once (Verify): from another node, after the
// skew window or a second time it counts for nothing, and the request is
// a client's like any other. The peer marks the answers it gives as an
// owner or a shield (MarkAnswer), bound to the request's nonce, and the
// asking node keeps or uses an answer as a peer's only with a valid mark
// (Ask). The secret proves who sent what; it hides nothing: advertise an
// https URL for that (PeeringConfig.RootCAs).

// PeerAuthHeader carries a node's proof that it, a member of the cluster,
// sent the request: "t=<unix seconds>, n=<nonce>, sig=<base64url
// HMAC-SHA256>".
const PeerAuthHeader = "Imgedge-Peer-Auth"

// AnswerHeader carries a node's mark on an answer it gives as an owner or
// a shield: the MAC of the answer's kind, status, type, length, ETag and
// variant description, bound to the request's nonce.
const AnswerHeader = "Imgedge-Peer-Answer"

// VariantHeader carries an owner's description of the variant it answers
// (variant.VariantInfo), for the asking node's hot copy. It is set with
// the mark (MarkAnswer) and read, and dropped, with it (Ask): a relayed
// answer never passes one on.
const VariantHeader = "Imgedge-Variant"

// peerAuthSkew is how far a peer's clock, and the request's time in
// flight, may be off.
const peerAuthSkew = 60 * time.Second

// signedHeaders are the request headers that change a node's answer,
// covered by the proof: a proof seen on the wire cannot be replayed with
// other ones. Authorization and Cookie are covered by their hash (see
// credentialsHash).
var signedHeaders = []string{"Accept", "If-None-Match", "If-Modified-Since", "Range",
	"Sec-CH-DPR", "DPR", "Sec-CH-Width", "Width", "Sec-CH-Viewport-Width", "Viewport-Width", "Save-Data"}

// Why a proof was not accepted, as the imgedge_peer_proofs_refused_total
// metric counts it.
var (
	ErrProofInvalid  = errors.New("the peer proof does not verify")
	ErrProofExpired  = errors.New("the peer proof is outside the clock skew window")
	ErrProofReplayed = errors.New("the peer proof was used before")
)

// ProofRefusal is why a proof was not accepted, as a metric label:
// invalid, expired or replayed.
func ProofRefusal(err error) string {
	switch {
	case errors.Is(err, ErrProofExpired):
		return "expired"
	case errors.Is(err, ErrProofReplayed):
		return "replayed"
	}
	return "invalid"
}

// PeeringConfig configures how a node talks to its peers.
type PeeringConfig struct {
	// Secret is the cluster's shared secret. Without one no request is a
	// peer's, and the requests this node sends carry no proof.
	Secret []byte

	// Self is this node's ID (Balancer.ID): a proof is accepted only by
	// the node it names.
	Self string

	// RootCAs verifies the certificates of peers that advertise an https
	// URL. Nil: the system's roots.
	RootCAs *x509.CertPool
}

// Peering signs the requests this node sends its peers and checks those
// it gets from them. A nil *Peering signs nothing and accepts nothing.
type Peering struct {
	secret []byte
	self   string
	client *http.Client
	nonces *nonceSet
	now    func() time.Time
}

// NewPeering returns the peering of this node.
func NewPeering(cfg PeeringConfig) *Peering {
	transport := &http.Transport{
		Proxy: nil,
		// A peer that does not answer the connection is skipped soon; the
		// work itself is bounded by the caller's context.
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 2 * time.Second,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Peering{
		secret: cfg.Secret,
		self:   cfg.Self,
		client: &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		nonces: usedNonces,
		now:    time.Now,
	}
}

// Close lets go of the connections to peers.
func (p *Peering) Close() {
	if p != nil {
		p.client.CloseIdleConnections()
	}
}

// sign sets the hop chain and the proof on a request this node sends to
// the node to, and returns the proof's nonce.
func (p *Peering) sign(req *http.Request, to string, hops Hops) Nonce {
	var n Nonce
	_, _ = rand.Read(n[:]) // never fails (crypto/rand)
	req.Header.Set(HopHeader, hops.String())
	if len(p.secret) == 0 {
		return n
	}
	t := p.now().Unix()
	req.Header.Set(PeerAuthHeader, "t="+strconv.FormatInt(t, 10)+", n="+base64.RawURLEncoding.EncodeToString(n[:])+
		", sig="+p.requestMAC(req, to, t, n))
	return n
}

// Verify reads the proof and the hop chain of a request. A request
// without a proof is a client's: no hops and no error. A proof that
// fails, one outside the skew window and one used before are errors, and
// the request is a client's too. The nonce is what MarkAnswer binds the
// answer to.
func (p *Peering) Verify(r *http.Request) (Hops, Nonce, error) {
	v := r.Header.Get(PeerAuthHeader)
	if v == "" {
		return nil, Nonce{}, nil
	}
	if p == nil || len(p.secret) == 0 {
		return nil, Nonce{}, ErrProofInvalid
	}
	var t int64
	var n Nonce
	var sig string
	var haveNonce bool
	for part := range strings.SplitSeq(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			t, _ = strconv.ParseInt(val, 10, 64)
		case "n":
			b, err := base64.RawURLEncoding.DecodeString(val)
			haveNonce = err == nil && len(b) == len(n)
			copy(n[:], b)
		case "sig":
			sig = val
		}
	}
	hops, ok := parseHops(r.Header.Get(HopHeader))
	if t == 0 || !haveNonce || sig == "" || !ok {
		return nil, Nonce{}, ErrProofInvalid
	}
	if !hmac.Equal([]byte(sig), []byte(p.requestMAC(r, p.self, t, n))) {
		return nil, Nonce{}, ErrProofInvalid
	}
	now := p.now()
	if d := now.Sub(time.Unix(t, 0)); d > peerAuthSkew || d < -peerAuthSkew {
		return nil, Nonce{}, ErrProofExpired
	}
	// Only a proof that verified is remembered: junk cannot fill the set.
	switch p.nonces.use(n, now) {
	case nonceReplayed:
		return nil, Nonce{}, ErrProofReplayed
	case nonceFull:
		return nil, Nonce{}, ErrProofReplayed // cannot tell: refused as one
	}
	return hops, n, nil
}

// requestMAC is the MAC of one request between nodes, meant for node to.
func (p *Peering) requestMAC(r *http.Request, to string, t int64, n Nonce) string {
	m := hmac.New(sha256.New, p.secret)
	field := func(s string) {
		m.Write([]byte(strconv.Itoa(len(s)) + ":" + s + "\n"))
	}
	field("imgedge-peer-v3")
	field(r.Method)
	field(strings.ToLower(r.Host))
	field(r.URL.RequestURI())
	field(to)
	field(r.Header.Get(HopHeader))
	field(strconv.FormatInt(t, 10))
	field(string(n[:]))
	for _, name := range signedHeaders {
		field(strings.Join(r.Header.Values(name), "\n"))
	}
	field(credentialsHash(r.Header))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// credentialsHash stands for a request's Authorization and Cookie in the
// proof.
func credentialsHash(h http.Header) string {
	sum := sha256.New()
	for _, name := range []string{"Authorization", "Cookie"} {
		for _, v := range h.Values(name) {
			sum.Write([]byte(name + "\x00" + v + "\x00"))
		}
	}
	return string(sum.Sum(nil))
}

// MarkAnswer marks the answer a node gives, as a hop of kind, to the peer
// request with nonce n: h is the answer's header, complete but for the
// mark, status its status, body its body (whole: a HEAD's too, though it
// is not sent). variant, for an owner's answer, describes the variant for
// the asking node's hot copy.
func (p *Peering) MarkAnswer(h http.Header, status int, n Nonce, kind, variant string, body []byte) {
	if p == nil || len(p.secret) == 0 {
		return
	}
	h.Del(VariantHeader)
	if variant != "" {
		h.Set(VariantHeader, variant)
	}
	sum := sha256.Sum256(body)
	d := base64.RawURLEncoding.EncodeToString(sum[:])
	h.Set(AnswerHeader, "d="+d+", sig="+p.answerMAC(h, status, n, kind, d))
}

// markedFields are the answer's header fields the mark covers.
var markedFields = []string{"Content-Type", "Content-Length", "Content-Encoding", "ETag", "Cache-Control", "Vary", VariantHeader}

// answerMAC is the MAC of a peer's answer whose body has digest d.
func (p *Peering) answerMAC(h http.Header, status int, n Nonce, kind, d string) string {
	m := hmac.New(sha256.New, p.secret)
	field := func(s string) {
		m.Write([]byte(strconv.Itoa(len(s)) + ":" + s + "\n"))
	}
	for _, s := range []string{"imgedge-answer-v2", string(n[:]), kind, strconv.Itoa(status), d} {
		field(s)
	}
	for _, name := range markedFields {
		field(strings.Join(h.Values(name), "\n"))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// answerMarked checks a peer's answer to the request with nonce n, made as
// a hop of kind, and drops the mark and the variant description from its
// header; when the mark holds, it returns the description and the digest
// of the body.
func (p *Peering) answerMarked(resp *http.Response, n Nonce, kind string) (marked bool, variant string, digest []byte) {
	h := resp.Header
	mark, variant := h.Get(AnswerHeader), h.Get(VariantHeader)
	var d, sig string
	for part := range strings.SplitSeq(mark, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "d":
			d = v
		case "sig":
			sig = v
		}
	}
	digest, err := base64.RawURLEncoding.DecodeString(d)
	marked = p != nil && len(p.secret) > 0 && sig != "" && err == nil && len(digest) == sha256.Size &&
		hmac.Equal([]byte(sig), []byte(p.answerMAC(h, resp.StatusCode, n, kind, d)))
	h.Del(AnswerHeader)
	h.Del(VariantHeader)
	if !marked {
		return false, "", nil
	}
	return true, variant, digest
}
