package imaging

import (
	"sync/atomic"
	"time"

	"github.com/imgedge/imgedge/internal/vips"
)

// lastTrim is when glibc's heaps were last trimmed (unix nanoseconds).
var lastTrim atomic.Int64

// TrimSoon returns freed libvips memory to the kernel, at most once a
// second, in the background: libvips' many small tile buffers fragment
// glibc's heaps, which otherwise only grow. Call it after a job.
func TrimSoon() {
	now := time.Now().UnixNano()
	last := lastTrim.Load()
	if now-last < int64(time.Second) || !lastTrim.CompareAndSwap(last, now) {
		return
	}
	go vips.Trim()
}
