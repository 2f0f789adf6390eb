package vips

import "testing"

func TestTheThreadsetRaceIsClosed(t *testing.T) {
	if !ThreadsetSafe() {
		t.Fatal("libvips " + Version + " has the threadset exit race and does not call imgedge's idle wait")
	}
	// The probe's waiter is posted 100 ms after a 1 ms timeout. libvips
	// before 8.15.5 frees a worker whose wait timed out, racing a task
	// handed to it, so there the wait must not time out; later versions
	// keep their own behaviour.
	if got := idleWaitTimesOut(1000); got == threadsetRacy() {
		t.Fatalf("libvips %s: the idle wait timed out: %v, want %v", Version, got, !threadsetRacy())
	}
}
