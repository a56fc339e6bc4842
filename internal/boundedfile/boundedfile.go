// Package boundedfile reads and replaces the files flakeresolve is pointed
// at (flake.nix, flake.versions.nix, flake.lock, request and index files)
// the way a tool that runs unattended in CI must: a read takes at most a
// stated number of bytes, never blocks on a special file, and refuses
// anything that is not a regular file; a replacement is atomic and keeps
// the file's mode.
//
// It is one package because every reader needs the same three guards: a
// flake.lock symlinked to /dev/zero would otherwise be read until memory
// runs out, and a FIFO would hang the job forever, in open or in read.
package boundedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Limits for the files the command line and the server read. Real
// flake.nix files are a few kilobytes and real flake.lock files under a
// megabyte; an index of 20,000 flakes is under 200 MB, and Nix's global
// flake registry under 20 KB.
const (
	MaxFlakeNix  = 4 << 20
	MaxFlakeLock = 64 << 20
	MaxRequest   = 64 << 20
	MaxIndex     = 2 << 30
	MaxRegistry  = 64 << 20
)

// TooLargeError says a file is over the bytes its reader takes.
type TooLargeError struct {
	Path string
	Max  int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes, the most read from such a file", e.Path, e.Max)
}

// NotRegularError says a path names something other than a regular file
// (after symlinks): a directory, a device, a pipe or a socket.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: is %s, not a regular file; expected a file", e.Path, kind(e.Mode))
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

// Read reads the regular file at path, of at most max bytes. The file is
// opened without blocking (a FIFO's open waits for a writer otherwise),
// checked to be regular on the opened descriptor, so a swap between check
// and read changes nothing, and read through a limit, so a file that
// grows while it is read is still cut off. A missing file's error
// satisfies errors.Is(err, fs.ErrNotExist).
func Read(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	if st.Size() > max {
		return nil, &TooLargeError{Path: path, Max: max}
	}
	// io.ReadAll's loop, from room for the size the file has now (one
	// byte more shows it grew): ReadAll would start small and grow by
	// doubling, zeroing and copying at every step, which was a third of
	// the time a 30 MiB index took to load.
	data := make([]byte, 0, st.Size()+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > max {
			return nil, &TooLargeError{Path: path, Max: max}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

// WriteAtomic replaces path with data through a temporary file in the same
// directory and a rename, so readers never see a half-written file. The
// new file keeps the old one's permission bits; a new file gets 0644, as
// Nix writes flake.lock.
func WriteAtomic(path string, data []byte) error {
	mode := fs.FileMode(0o644)
	switch st, err := os.Stat(path); {
	case err == nil && !st.Mode().IsRegular():
		return &NotRegularError{Path: path, Mode: st.Mode()}
	case err == nil:
		mode = st.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
