//go:build !unix

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrInUse is a directory another process holds; never returned here.
var ErrInUse = errors.New("the directory is in use")

// Lock creates dir/LOCK. Without flock there is no protection against a
// second process: keep one directory per process.
func Lock(dir, user string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening the lock of %s: %w", user, err)
	}
	return f, nil
}
