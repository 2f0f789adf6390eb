//go:build !linux

package metering

import (
	"errors"
	"os"
)

// Elsewhere segments are written with pwrite(2).

var mapSegmentFile = func(*os.File, int) ([]byte, error) {
	return nil, errors.New("metering: mapped segments need Linux")
}

func mapSegment(f *os.File, size int) ([]byte, error) { return mapSegmentFile(f, size) }

func unmapSegment([]byte) error { return nil }
