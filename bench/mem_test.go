package bench

import (
	goruntime "runtime"
	"testing"
)

func TestPeakRSSSeesTouchedAllocation(t *testing.T) {
	if CurrentRSS() == 0 {
		t.Skip("this platform reports no RSS")
	}
	const size = 96 << 20
	freeMemory()
	base := CurrentRSS()
	tr := StartPeak()
	buf := make([]byte, size)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = byte(i>>12) | 1
	}
	goruntime.KeepAlive(buf)
	buf = nil
	freeMemory()
	peak, method := tr.Stop()
	after := CurrentRSS()
	t.Logf("base %d MiB, peak %d MiB (%s), after free %d MiB", base>>20, peak>>20, method, after>>20)
	slack := uint64(24 << 20)
	if raceEnabled {
		slack += 3 * size // shadow memory of the touched pages
	}
	if peak < base+size-(4<<20) {
		t.Errorf("peak RSS %d MiB does not include the %d MiB touched above the %d MiB base", peak>>20, size>>20, base>>20)
	}
	if peak > base+size+slack {
		t.Errorf("peak RSS %d MiB is far above base %d MiB + %d MiB touched", peak>>20, base>>20, size>>20)
	}
	if !raceEnabled && after > peak-size/2 {
		t.Errorf("RSS after freeing is %d MiB, peak %d MiB: the tracker reports the current RSS, not the peak", after>>20, peak>>20)
	}
}

func TestReadMemoryConsistent(t *testing.T) {
	m := ReadMemory()
	if m.RSS == 0 {
		t.Skip("this platform reports no RSS")
	}
	if m.GoHeap == 0 || m.GoMapped < m.GoHeap {
		t.Errorf("Go heap %d, mapped %d", m.GoHeap, m.GoMapped)
	}
	if m.Split {
		sum := m.RSSFile + m.RSSAnon + m.RSSShmem
		// The counters are read from one file at one instant; they add up exactly on Linux.
		if sum != m.RSS {
			t.Errorf("file %d + anon %d + shmem %d = %d, RSS %d", m.RSSFile, m.RSSAnon, m.RSSShmem, sum, m.RSS)
		}
	}
}

func TestParseKB(t *testing.T) {
	got := parseKB([]byte("Name:\tx\nVmRSS:\t  1234 kB\nRssFile: 10 kB\nbad line\nThreads: 3\nX: 9999999999999999999999 kB\n"))
	if got["VmRSS"] != 1234*1024 || got["RssFile"] != 10*1024 || len(got) != 2 {
		t.Errorf("parseKB = %v", got)
	}
}

func FuzzParseKB(f *testing.F) {
	f.Add([]byte("VmRSS:\t  1234 kB\nRssAnon: 5 kB\n"))
	f.Add([]byte("Rss: 1 kB\n:\n: 2 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k, v := range parseKB(b) {
			if k == "" || v%1024 != 0 {
				t.Fatalf("key %q value %d", k, v)
			}
		}
	})
}
