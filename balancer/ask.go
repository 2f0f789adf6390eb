package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Answer is a peer's answer to a hop, read in full.
type Answer struct {
	Status int
	Header http.Header // end-to-end headers only
	Body   []byte
	Took   time.Duration // from sending to the last byte
}

// ErrAnswerTooLarge is a peer's answer longer than the caller allows.
var ErrAnswerTooLarge = errors.New("the peer's answer is larger than allowed")

// Ask sends in (the request as the client sent it, before any rewrite) to
// peer as a hop of kind hop (HopOwner, HopShield), signed with secret, and
// reads the answer, at most maxBody bytes of it. A peer that cannot be
// reached, answers 5xx or sends too much is an error: the caller tries
// the next rank, or does the work itself. The answer is read in full
// before anything reaches the client, so a failure midway costs the
// client nothing.
func Ask(ctx context.Context, peer Peer, in *http.Request, hop string, secret []byte, maxBody int64) (*Answer, error) {
	began := time.Now()
	req, err := peerRequest(ctx, peer, in, secret, LoopToken+"; hop="+hop)
	if err != nil {
		return nil, err
	}
	resp, err := forwardClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		drain(resp)
		return nil, fmt.Errorf("%w: %d", ErrPeerFailed, resp.StatusCode)
	}
	if resp.ContentLength > maxBody {
		return nil, fmt.Errorf("%w: %d bytes", ErrAnswerTooLarge, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the peer's answer: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, ErrAnswerTooLarge
	}
	return &Answer{Status: resp.StatusCode, Header: endToEnd(resp.Header), Body: body, Took: time.Since(began)}, nil
}
