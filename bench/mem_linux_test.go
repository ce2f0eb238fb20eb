//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMemorySplitShowsMappedFileAsFileBacked maps and reads a file, the way the
// loader maps weights, and checks that the split counts it as file-backed.
func TestMemorySplitShowsMappedFileAsFileBacked(t *testing.T) {
	const size = 32 << 20
	path := filepath.Join(t.TempDir(), "weights")
	data := make([]byte, size)
	for i := 0; i < size; i += 4096 {
		data[i] = byte(i>>12) | 1
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	data = nil
	freeMemory()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := ReadMemory()
	if !before.Split {
		t.Skip("no RssFile/RssAnon split on this kernel")
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	var sum byte
	for i := 0; i < size; i += 4096 {
		sum += m[i]
	}
	after := ReadMemory()
	t.Logf("file %d -> %d MiB, anon %d -> %d MiB (sum %d)", before.RSSFile>>20, after.RSSFile>>20, before.RSSAnon>>20, after.RSSAnon>>20, sum)
	if d := int64(after.RSSFile) - int64(before.RSSFile); d < size-(1<<20) {
		t.Errorf("file-backed RSS grew by %d MiB after reading a %d MiB mapping", d>>20, size>>20)
	}
	if d := int64(after.RSSAnon) - int64(before.RSSAnon); d > 8<<20 {
		t.Errorf("anonymous RSS grew by %d MiB reading a file mapping", d>>20)
	}
}
