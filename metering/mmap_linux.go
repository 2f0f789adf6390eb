//go:build linux

package metering

import (
	"os"
	"syscall"
)

// mapSegmentFile preallocates f to size bytes and maps it shared and
// writable. fallocate, unlike ftruncate, reserves the blocks: a full disk
// is reported here instead of as a SIGBUS when a page is first written. It
// is a variable so that tests can take the pwrite path.
var mapSegmentFile = func(f *os.File, size int) ([]byte, error) {
	fd := int(f.Fd())
	if err := syscall.Fallocate(fd, 0, 0, int64(size)); err != nil {
		return nil, err
	}
	return syscall.Mmap(fd, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

// mapSegment maps a new, empty segment file for size bytes of frames. On
// failure the file is left empty, to be written with pwrite(2).
func mapSegment(f *os.File, size int) ([]byte, error) {
	mem, err := mapSegmentFile(f, size)
	if err != nil {
		if terr := f.Truncate(0); terr != nil {
			return nil, terr
		}
		return nil, err
	}
	return mem, nil
}

func unmapSegment(mem []byte) error { return syscall.Munmap(mem) }
