package boundedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSpecialFiles: a symlink to /dev/zero and a FIFO are refused at once
// (before this package, the first was read until memory ran out and the
// second blocked forever), a directory too; a missing file reads as
// missing.
func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "flake.lock")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{zero: "a character device", fifo: "a named pipe (FIFO)", dir: "a directory"} {
		_, err := Read(path, MaxFlakeLock)
		var nr *NotRegularError
		if !errors.As(err, &nr) || kind(nr.Mode) != want {
			t.Errorf("%s: %v, want it refused as %s", path, err, want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestSizeBound: a file over the bound is refused, one at it is read.
func TestSizeBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flake.nix")
	if err := os.WriteFile(path, make([]byte, 101), 0o644); err != nil {
		t.Fatal(err)
	}
	var tl *TooLargeError
	if _, err := Read(path, 100); !errors.As(err, &tl) || tl.Max != 100 {
		t.Errorf("101 bytes read with a bound of 100: %v", err)
	}
	if data, err := Read(path, 101); err != nil || len(data) != 101 {
		t.Errorf("101 bytes read with a bound of 101: %d bytes, %v", len(data), err)
	}
}

// TestWriteKeepsMode: a replaced file keeps its permission bits (a
// flake.lock made group-writable, or private, stays so); a new file is
// 0644.
func TestWriteKeepsMode(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "flake.lock")
	if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o664); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "new.lock")
	for path, want := range map[string]fs.FileMode{old: 0o664, fresh: 0o644} {
		if err := WriteAtomic(path, []byte("new")); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, st.Mode().Perm(), err, want)
		}
		if data, _ := os.ReadFile(path); string(data) != "new" {
			t.Errorf("%s holds %q", path, data)
		}
	}
}
