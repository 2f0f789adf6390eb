package imaging

import "github.com/imgedge/imgedge/internal/vips"

// ThreadsSafe reports whether libvips' worker threads are safe from the
// thread-exit race of libvips before 8.15.5 (see internal/vips/threadset.c).
// It is false only in a binary linked so that libvips cannot see imgedge's
// fix; such a node can crash under load after a lull.
func ThreadsSafe() bool { return vips.ThreadsetSafe() }

// LibvipsVersion is the libvips in use, e.g. "8.14.1".
func LibvipsVersion() string { return vips.Version }
