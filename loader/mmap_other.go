//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package loader

import (
	"io"
	"os"
)

// mapRegion reads the first size bytes of f into memory: the fallback on systems
// where the loader has no memory map (Windows, Plan 9, wasm, ...).
func mapRegion(f *os.File, size int) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
