package loader

import (
	"bufio"
	"os"
	"path/filepath"
)

// atomicFile is a buffered file written under a temporary name in its destination's
// folder and renamed into place by commit, so nobody ever sees a half-written file.
// Both writers (GGUF and safetensors) use it.
type atomicFile struct {
	*bufio.Writer
	path string
	tmp  *os.File
}

// createAtomic starts the temporary file for path.
func createAtomic(path string) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{Writer: bufio.NewWriterSize(tmp, 1<<20), path: path, tmp: tmp}, nil
}

// commit flushes and syncs the file and renames it to its path. On failure the
// temporary file is removed.
func (f *atomicFile) commit() error {
	err := f.Flush()
	if err == nil {
		err = f.tmp.Sync()
	}
	if err == nil {
		err = f.tmp.Chmod(0o644)
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.tmp.Name())
	}
	return err
}

// abort closes and removes the temporary file.
func (f *atomicFile) abort() {
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}
