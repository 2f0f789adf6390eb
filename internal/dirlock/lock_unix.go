//go:build unix

// Package dirlock makes a directory one process's: an exclusive flock on
// dir/LOCK, held for as long as the returned file is open.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrInUse is a directory another process (or config) holds.
var ErrInUse = errors.New("the directory is in use")

// Lock takes an exclusive flock on dir/LOCK. flock locks belong to the
// open file, so a second Lock on the same directory fails even in the
// same process; user names the directory's user in the error ("a usage
// spool", "a disk cache"). Closing the returned file releases the lock.
func Lock(dir, user string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening the lock of %s: %w", user, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is already in use as %s by another process or config (%s is locked)", ErrInUse, dir, user, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// The pid is only a hint for people; the flock is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
