//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package loader

import (
	"os"
	"syscall"
)

// mapRegion maps the first size bytes of f read-only and shared.
func mapRegion(f *os.File, size int) ([]byte, func() error, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
