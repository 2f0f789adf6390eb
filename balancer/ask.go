package balancer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrAnswerTooLarge is a peer's answer longer than the caller allows.
var ErrAnswerTooLarge = errors.New("the peer's answer is larger than allowed")

// Answer is a peer's answer to a hop. Marked says the peer marked it as
// its answer to this very request (see MarkAnswer); only then may the
// asking node take it for an original, or keep it as a variant. Variant
// is the owner's description of the variant, set only with the mark.
type Answer struct {
	*http.Response
	Marked  bool
	Variant string
	digest  []byte // the SHA-256 of the body the peer marked
}

// Intact tells whether body, read whole, is the body the peer marked.
func (a *Answer) Intact(body []byte) bool {
	sum := sha256.Sum256(body)
	return a.Marked && bytes.Equal(sum[:], a.digest)
}

// Checked is the answer's body as it is read, and a check, once it is
// read to its end, that it was the body the peer marked.
func (a *Answer) Checked() (io.Reader, func() bool) {
	h := sha256.New()
	return io.TeeReader(a.Body, h), func() bool { return a.Marked && bytes.Equal(h.Sum(nil), a.digest) }
}

// Ask sends in (the request as the client sent it, before any rewrite) to
// peer as the hop chain hops (its last the kind of this hop: HopOwner,
// HopShield), signed, asking for an unencoded answer, and returns the
// peer's answer with its body still to read (the caller closes it), its
// header reduced to the end-to-end fields, the mark and the variant
// description taken out. The peer has within to answer or say it took
// the request, then what it said it may take (see send); accepted hears
// of that. An error means the peer could not be reached or did not answer
// in time: the caller tries the next rank, or does the work itself.
func (p *Peering) Ask(ctx context.Context, peer Peer, in *http.Request, hops Hops, within time.Duration, accepted func(time.Duration)) (*Answer, error) {
	req, err := peerRequest(ctx, peer, in)
	if err != nil {
		return nil, err
	}
	// The hop's bytes are kept and relayed as they are: no gzip on the
	// way (Caddy's encode may sit in front of image_resize).
	req.Header.Set("Accept-Encoding", "identity")
	n := p.sign(req, peer.ID, hops)
	resp, err := p.send(req, hops.Last(), peer, within, accepted)
	if err != nil {
		return nil, err
	}
	resp.Header = endToEnd(resp.Header)
	ans := &Answer{Response: resp}
	ans.Marked, ans.Variant, ans.digest = p.answerMarked(resp, n, hops.Last())
	return ans, nil
}

// ReadAnswer reads a peer's answer in full, at most max bytes, and closes
// it.
func ReadAnswer(resp *http.Response, max int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength > max {
		drain(resp)
		return nil, fmt.Errorf("%w: %d bytes", ErrAnswerTooLarge, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the peer's answer: %w", err)
	}
	if int64(len(body)) > max {
		return nil, ErrAnswerTooLarge
	}
	return body, nil
}

// Discard drops what is left of a peer's answer, so the connection goes
// back to the pool, and closes it.
func Discard(resp *http.Response) {
	drain(resp)
	resp.Body.Close()
}
