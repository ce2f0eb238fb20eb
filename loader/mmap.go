package loader

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// mapFile maps the file at path read-only (a heap copy on systems without mmap, see
// mmap_other.go, or when inRAM is set). It returns the bytes and a function that
// releases them. An empty file yields an empty slice and a no-op closer (mapping zero
// bytes is an error on most systems).
func mapFile(path string, inRAM bool) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, wrapf(path, ErrNotFound, err, "cannot open")
		}
		return nil, nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	defer f.Close() // the mapping stays valid after the descriptor is closed
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, nil, errorf(path, ErrUnsupported, "is a directory")
	}
	size := fi.Size()
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if size < 0 || int64(int(size)) != size {
		return nil, nil, errorf(path, ErrUnsupported, "file of %d bytes is too large to map on this platform", size)
	}
	if inRAM {
		b := make([]byte, size)
		if _, err := io.ReadFull(f, b); err != nil {
			return nil, nil, fmt.Errorf("loader: %s: %w", path, err)
		}
		return b, func() error { return nil }, nil
	}
	b, unmap, err := mapRegion(f, int(size))
	if err != nil {
		return nil, nil, fmt.Errorf("loader: %s: mmap: %w", path, err)
	}
	return b, unmap, nil
}
