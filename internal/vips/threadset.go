package vips

/*
#cgo LDFLAGS: -ldl
#include "threadset.h"
*/
import "C"

// ThreadsetSafe reports whether libvips' worker threads are safe from the
// thread-exit race of libvips before 8.15.5 (a worker freed after 15 s idle
// while a task is being handed to it: a crash under load after a lull).
// It is true on a libvips without the race, and on one with it when
// threadset.c's replacement idle wait is the one libvips calls. It is false
// only if the binary was linked so that libvips cannot see that
// replacement (internal linking, or a libvips built with
// -Bsymbolic-functions); the caller should say so loudly.
func ThreadsetSafe() bool {
	return !threadsetRacy() || C.imgedge_threadset_fixed() != 0
}

// threadsetRacy reports whether this libvips has the race at all.
func threadsetRacy() bool { return C.imgedge_threadset_racy() != 0 }

// idleWaitTimesOut reports whether the idle wait libvips' workers call
// gives up after timeout when nobody hands it work for longer than that.
func idleWaitTimesOut(timeoutMicros int64) bool {
	return C.imgedge_threadset_probe(C.longlong(timeoutMicros)) == -1
}
