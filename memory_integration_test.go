package imgedge_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
)

// cacheBustingPeak sends n concurrent requests for distinct variants of
// one 20 MP original (a 15 MB camera-like JPEG) to a node configured with
// imgedge and site (lines of the imgedge option and of image_resize), and
// returns the resting RSS before, the peak RSS during, and the answers by
// status.
func cacheBustingPeak(t *testing.T, n int, imgedge, site string) (rest, peak int64, statuses map[int]int) {
	photo := noisyJPEG(t, 5000, 4000) // 20 MP
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", fmt.Sprint(len(photo)))
		time.Sleep(50 * time.Millisecond) // an origin a little way off
		w.Write(photo)
	}))
	t.Cleanup(origin.Close)
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		%s
	}
}
http://127.0.0.1:{{PORT}} {
	image_resize {
		%s
	}
	reverse_proxy %s
}
`, imgedge, site, origin.URL))
	if a := get(t, c.Base+"/p.jpg?w=300"); a.status != 200 {
		t.Fatalf("warm-up: %d %s", a.status, a.body)
	}
	rest = c.RSS()
	var wg sync.WaitGroup
	var top atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				if r := c.RSS(); r > top.Load() {
					top.Store(r)
				}
			}
		}
	}()
	got := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = get(t, fmt.Sprintf("%s/p.jpg?w=300&v=%d", c.Base, i)).status
		}()
	}
	wg.Wait()
	close(done)
	statuses = map[int]int{}
	for _, s := range got {
		statuses[s]++
	}
	return rest, max(top.Load(), peakRSS(t, c)), statuses
}

// The README's memory envelope, on a node told it has 2 GiB, every other
// setting at its default: peak RSS <= a base + Go's memory limit (half
// the node's memory) + the jobs at once x a whole decode of the source.
func TestTheMemoryEnvelopeHoldsAtTheDefaults(t *testing.T) {
	const memory = 2 << 30
	jobs := int64(2 * runtime.NumCPU()) // concurrency's default
	envelope := envelopeBase + memory/2 + jobs*4*20_000_000
	rest, peak, statuses := cacheBustingPeak(t, 60, "memory 2GiB", "")
	t.Logf("60 cache-busting requests for a 20 MP original, 2 GiB node, defaults: statuses %v, RSS %d MB resting, peak %d MB, envelope %d MB",
		statuses, rest>>20, peak>>20, envelope>>20)
	if statuses[200] == 0 || statuses[200]+statuses[503] != 60 {
		t.Errorf("statuses %v: want 200s, and 503s for what did not fit", statuses)
	}
	if peak > envelope {
		t.Errorf("peak RSS %d MB, over the envelope of %d MB", peak>>20, envelope>>20)
	}
}

// envelopeBase is the base of the memory envelope: Caddy, libvips and
// the binary at rest, with room.
const envelopeBase = 128 << 20
