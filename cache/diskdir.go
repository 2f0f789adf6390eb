package cache

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/imgedge/imgedge/internal/durable"
)

// The tier's directory is the node's own: what is in it is served, so
// nothing that another user could have put there may be. OpenDisk refuses
// a directory that another user owns or that group or others may write.
// Every file of the tier is reached through an os.Root, so no name leads
// out of the directory, and none is followed if it is a symbolic link,
// even to a file of the tier: a file is created with O_EXCL in <dir>/tmp
// and renamed into place (a link at the name is replaced, not written
// through), and one opened must be a plain file of its own (not a
// symbolic link, not a second name of another file). An entry is
// served only if it carries its MAC under the directory's secret
// (<dir>/secret, 32 random bytes that only the tier's user may read), and
// only with the headers the tier stores (diskfile.go).

// ErrDiskUntrusted is a disk tier directory, or a file in it, that is not
// this process's own: owned by another user, writable by group or others,
// or (the secret) readable by them or a link. Caches then work from
// memory; the error says what to change.
var ErrDiskUntrusted = errors.New("not this process's own")

// errNotPlain is a name of the tier that holds something other than a
// plain file of its own: a symbolic link, a hard link to another name, a
// directory, a device.
var errNotPlain = errors.New("not a plain file")

const (
	secretFile = "secret"
	secretSize = 32
)

// checkOwnDir refuses a tier directory that is not the process's own.
func checkOwnDir(root *os.Root, dir string) error {
	fi, err := root.Stat(".")
	if err != nil {
		return err
	}
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s is %w: it is owned by uid %d and this process runs as uid %d (chown %d %s, or use another directory)",
			dir, ErrDiskUntrusted, uid, os.Geteuid(), os.Geteuid(), dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s is %w: group or others may write it (mode %04o), and could plant entries or links (chmod 700 %s)",
			dir, ErrDiskUntrusted, perm, dir)
	}
	return nil
}

// checkParent refuses a directory whose parent others may write without
// the sticky bit: they could rename it away and put their own in its
// place between two uses.
func checkParent(dir string) error {
	parent := filepath.Dir(dir)
	fi, err := os.Stat(parent)
	if err != nil {
		return err
	}
	if perm := fi.Mode(); perm.Perm()&0o002 != 0 && perm&fs.ModeSticky == 0 {
		return fmt.Errorf("%s is %w: its parent %s may be written by anyone (mode %04o), who could replace it (chmod o-w %s, or use another directory)",
			dir, ErrDiskUntrusted, parent, perm.Perm(), parent)
	}
	return nil
}

// owner is the uid that owns a file, where the system says.
func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// links is how many names a file has, where the system says.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// open opens name, a slash-separated path in the tier's directory, as a
// plain file of its own: anything else at name (a symbolic link, even to
// a file of the tier; a hard link) is errNotPlain. name must exist,
// unless flag creates it with O_EXCL, which never follows a link either.
func (d *Disk) open(name string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	flag |= syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
		f, err := d.root.OpenFile(name, flag, perm)
		return f, nil, err
	}
	// os.Root follows a link that stays in the directory, O_NOFOLLOW or
	// not: the name is looked at first (a FIFO is never opened either),
	// and the file opened must be the one looked at. Both from its own
	// directory, which is looked up once.
	root, base := d.root, name
	if dir, file := path.Split(name); dir != "" {
		sub, err := d.root.OpenRoot(dir)
		if err != nil {
			return nil, nil, err
		}
		defer sub.Close()
		root, base = sub, file
	}
	before, err := root.Lstat(base)
	if err != nil {
		return nil, nil, err
	}
	if !before.Mode().IsRegular() || links(before) != 1 {
		return nil, nil, d.notPlain(name)
	}
	f, err := root.OpenFile(base, flag, perm)
	if err != nil {
		return nil, nil, err
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, nil, d.notPlain(name)
	}
	return f, after, nil
}

func (d *Disk) notPlain(name string) error {
	return &fs.PathError{Op: "open", Path: filepath.Join(d.cfg.Dir, name), Err: errNotPlain}
}

// readFile reads the plain file name whole; one larger than limit is
// errCorrupt, never read.
func (d *Disk) readFile(name string, limit int64) ([]byte, error) {
	f, info, err := d.open(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info.Size() > limit {
		return nil, errCorrupt
	}
	b := make([]byte, info.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

// writeTemp writes b to a new file in tmp, synced when synced is set, and
// returns its name.
func (d *Disk) writeTemp(b []byte, synced bool) (string, error) {
	name := "tmp/w-" + strconv.FormatUint(d.temps.Add(1), 36)
	f, _, err := d.open(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil && synced {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = d.root.Remove(name)
		return "", err
	}
	return name, nil
}

// replace puts b at name through a file in tmp renamed into place: a
// reader sees the old file or the whole new one, and whatever was at name
// (a link included) is replaced, never written through. synced makes the
// file and its name durable.
func (d *Disk) replace(name string, b []byte, synced bool) error {
	tmp, err := d.writeTemp(b, synced)
	if err != nil {
		return err
	}
	if err = d.root.MkdirAll(path.Dir(name), 0o700); err == nil {
		err = d.root.Rename(tmp, name)
	}
	if err != nil {
		_ = d.root.Remove(tmp)
		return err
	}
	if synced {
		return durable.SyncDir(filepath.Join(d.cfg.Dir, path.Dir(name)))
	}
	return nil
}

// loadSecret reads the directory's secret, or makes it; fresh says it was
// made, so entries already in the directory were not signed with it.
func (d *Disk) loadSecret() (fresh bool, err error) {
	file := filepath.Join(d.cfg.Dir, secretFile)
	f, info, err := d.open(secretFile, os.O_RDONLY, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.secret = make([]byte, secretSize)
		_, _ = rand.Read(d.secret) // never fails
		return true, d.replace(secretFile, d.secret, true)
	case errors.Is(err, errNotPlain):
		return false, fmt.Errorf("%s is %w: it is not a plain file of its own (a symbolic or hard link?); remove it, and the tier starts empty with a new secret",
			file, ErrDiskUntrusted)
	case err != nil:
		return false, err
	}
	defer f.Close()
	uid, _ := owner(info)
	switch {
	case uid != os.Geteuid():
		return false, fmt.Errorf("%s is %w: it is owned by uid %d; remove it, and the tier starts empty with a new secret",
			file, ErrDiskUntrusted, uid)
	case info.Mode().Perm()&0o077 != 0:
		return false, fmt.Errorf("%s is %w: group or others may read it (mode %04o), so entries may be forged; remove it, and the tier starts empty with a new secret",
			file, ErrDiskUntrusted, info.Mode().Perm())
	case info.Size() != secretSize:
		return false, fmt.Errorf("%s is %w: it holds %d bytes, not %d; remove it, and the tier starts empty with a new secret",
			file, ErrDiskUntrusted, info.Size(), secretSize)
	}
	d.secret = make([]byte, secretSize)
	_, err = io.ReadFull(f, d.secret)
	return false, err
}
