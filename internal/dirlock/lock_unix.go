//go:build unix

// Package dirlock makes a directory one process's: an exclusive flock on
// dir/LOCK, held for as long as the returned file is open.
package dirlock

import (
	"errors"
	"fmt"
	"io/fs"
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
//
// The lock is written (the pid) only if it is a plain file of its own:
// a symbolic link at dir/LOCK is never followed, and a hard link to
// another file is refused, so that neither can make Lock write another
// file.
func Lock(dir, user string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("opening the lock of %s: %s is a symbolic link, which is never followed: remove it", user, path)
		}
		return nil, fmt.Errorf("opening the lock of %s: %w", user, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || links(fi) != 1 {
		f.Close()
		return nil, fmt.Errorf("opening the lock of %s: %s is not a plain file of its own (a hard link, a device?): remove it", user, path)
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

// links is how many names a file has, where the system says.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
