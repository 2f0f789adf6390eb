package balancer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PeerAuthHeader carries a node's proof that it, a member of the cluster,
// sent the request: "t=<unix seconds>, sig=<base64url HMAC-SHA256>", the
// MAC taken under the cluster's shared secret (the imgedge option's
// secret) over the method, host, request target, CDN-Loop and time. Only a request
// that carries a valid one counts as forwarded by a peer (its CDN-Loop
// marker is trusted, it is never forwarded again); a client cannot mint
// one.
const PeerAuthHeader = "Imgedge-Peer-Auth"

// peerAuthSkew is how far a peer's clock, and the request's time in
// flight, may be off.
const peerAuthSkew = 60 * time.Second

// peerMAC is the MAC of one inter-node request.
func peerMAC(secret []byte, method, host, target, cdnLoop string, t int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("imgedge-peer-v2\n" + method + "\n" + strings.ToLower(host) + "\n" + target + "\n" + cdnLoop + "\n" + strconv.FormatInt(t, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SignPeerRequest sets the peer authentication header on a request this
// node sends to another.
func SignPeerRequest(req *http.Request, secret []byte, now time.Time) {
	t := now.Unix()
	req.Header.Set(PeerAuthHeader, "t="+strconv.FormatInt(t, 10)+", sig="+peerMAC(secret, req.Method, req.Host, req.URL.RequestURI(), cdnLoop(req.Header), t))
}

// PeerAuthenticated reports whether r was sent by a node holding secret.
// Without a secret nothing is.
func PeerAuthenticated(r *http.Request, secret []byte, now time.Time) bool {
	v := r.Header.Get(PeerAuthHeader)
	if len(secret) == 0 || v == "" {
		return false
	}
	var t int64
	var sig string
	for part := range strings.SplitSeq(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			t, _ = strconv.ParseInt(val, 10, 64)
		case "sig":
			sig = val
		}
	}
	if t == 0 || sig == "" {
		return false
	}
	if d := now.Sub(time.Unix(t, 0)); d > peerAuthSkew || d < -peerAuthSkew {
		return false
	}
	want := peerMAC(secret, r.Method, r.Host, r.URL.RequestURI(), cdnLoop(r.Header), t)
	return hmac.Equal([]byte(sig), []byte(want))
}

// cdnLoop is a request's CDN-Loop, its header lines joined.
func cdnLoop(h http.Header) string { return strings.Join(h.Values("CDN-Loop"), ",") }

// StripHops removes what only a peer may send from a request's header:
// the peer authentication, and, unless keepLoop, imgedge's entries in
// CDN-Loop (a client's own claims to be a hop, which a node must neither
// trust nor pass on to its peers, where they would be signed).
func StripHops(h http.Header, keepLoop bool) {
	h.Del(PeerAuthHeader)
	if keepLoop {
		return
	}
	var kept []string
	for _, entry := range splitList(cdnLoop(h)) {
		if entry = strings.TrimSpace(entry); entry != "" && !strings.EqualFold(cdnID(entry), LoopToken) {
			kept = append(kept, entry)
		}
	}
	h.Del("CDN-Loop")
	if len(kept) > 0 {
		h.Set("CDN-Loop", strings.Join(kept, ", "))
	}
}
