//go:build !unix

package metering

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates dir/LOCK. Without flock there is no protection against a
// second process: keep one spool directory per process.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("metering: opening spool lock: %w", err)
	}
	return f, nil
}
