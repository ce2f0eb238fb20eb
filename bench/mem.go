package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	rtm "runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// Memory is a snapshot of the process's memory. RSSFile and RSSAnon split the
// resident set into file-backed pages (memory-mapped weights, the binary) and
// anonymous ones (Go heap, KV cache, buffers); they are zero where the operating
// system does not report them (Split is then false).
type Memory struct {
	RSS      uint64 // resident set size, bytes
	RSSFile  uint64 // file-backed resident bytes (Linux RssFile)
	RSSAnon  uint64 // anonymous resident bytes (Linux RssAnon)
	RSSShmem uint64 // shared-memory resident bytes (Linux RssShmem)
	PSSFile  uint64 // proportional file-backed set from smaps_rollup (0 when absent)
	PSSAnon  uint64 // proportional anonymous set from smaps_rollup (0 when absent)
	GoHeap   uint64 // bytes of live and not-yet-swept Go heap objects
	GoMapped uint64 // memory the Go runtime holds from the OS, minus what it released
	Split    bool   // RSSFile/RSSAnon are known
	Source   string // where RSS came from: "proc", "gopsutil"
}

// ReadMemory returns the current memory figures of this process. It reads
// /proc/self/status and /proc/self/smaps_rollup where present and falls back to
// gopsutil for the portable RSS.
func ReadMemory() Memory {
	var m Memory
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		st := parseKB(b)
		if v, ok := st["VmRSS"]; ok {
			m.RSS, m.Source = v, "proc"
		}
		f, okf := st["RssFile"]
		a, oka := st["RssAnon"]
		if okf && oka {
			m.RSSFile, m.RSSAnon, m.RSSShmem, m.Split = f, a, st["RssShmem"], true
		}
	}
	if b, err := os.ReadFile("/proc/self/smaps_rollup"); err == nil {
		st := parseKB(b)
		m.PSSFile, m.PSSAnon = st["Pss_File"], st["Pss_Anon"]
		if !m.Split {
			// Older kernels: no RssFile in status; Anonymous counts the anonymous pages.
			if a, ok := st["Anonymous"]; ok {
				if r, ok := st["Rss"]; ok && r >= a {
					m.RSS, m.RSSAnon, m.RSSFile, m.Split, m.Source = r, a, r-a, true, "proc"
				}
			}
		}
	}
	if m.Source == "" {
		m.RSS, m.Source = gopsutilRSS(), "gopsutil"
	}
	m.GoHeap, m.GoMapped = goMemory()
	return m
}

var (
	selfOnce sync.Once
	self     *process.Process
)

// gopsutilRSS returns the resident set size through gopsutil (0 when unavailable).
func gopsutilRSS() uint64 {
	selfOnce.Do(func() { self, _ = process.NewProcess(int32(os.Getpid())) })
	if self == nil {
		return 0
	}
	mi, err := self.MemoryInfoWithContext(context.Background())
	if err != nil || mi == nil {
		return 0
	}
	return mi.RSS
}

// CurrentRSS returns the resident set size of this process in bytes (0 when the
// platform does not tell).
func CurrentRSS() uint64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		f := bytes.Fields(b)
		if len(f) >= 2 {
			if pages, err := strconv.ParseUint(string(f[1]), 10, 64); err == nil {
				return pages * uint64(os.Getpagesize())
			}
		}
	}
	return gopsutilRSS()
}

// parseKB reads "Key:   123 kB" lines into bytes.
func parseKB(b []byte) map[string]uint64 {
	out := make(map[string]uint64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		f := bytes.Fields(line[i+1:])
		if len(f) != 2 || string(f[1]) != "kB" {
			continue
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		out[string(line[:i])] = v * 1024
	}
	return out
}

var goMetrics = []rtm.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}

var goMetricsMu sync.Mutex

// goMemory returns the Go heap objects bytes and the memory mapped by the Go runtime
// that it has not released, from runtime/metrics.
func goMemory() (heap, mapped uint64) {
	goMetricsMu.Lock()
	defer goMetricsMu.Unlock()
	rtm.Read(goMetrics)
	get := func(i int) uint64 {
		if goMetrics[i].Value.Kind() == rtm.KindUint64 {
			return goMetrics[i].Value.Uint64()
		}
		return 0
	}
	total, released := get(1), get(2)
	if released <= total {
		mapped = total - released
	}
	return get(0), mapped
}

// PeakTracker measures the peak resident set size between its start and Stop.
// On Linux it resets the kernel's high-water mark (VmHWM, through
// /proc/self/clear_refs) and reads it back, which catches every page; elsewhere, or
// when the reset is refused, it samples the RSS every few milliseconds.
type PeakTracker struct {
	hwm     bool
	sampled atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
}

// StartPeak starts a PeakTracker.
func StartPeak() *PeakTracker {
	t := &PeakTracker{stop: make(chan struct{}), done: make(chan struct{})}
	t.hwm = resetHWM()
	t.sampled.Store(CurrentRSS())
	if t.hwm {
		// The high-water mark catches every page: no sampling goroutine, which would
		// read /proc every few milliseconds on the cores the timed tests run on.
		close(t.done)
		return t
	}
	go t.sample()
	return t
}

func (t *PeakTracker) sample() {
	defer close(t.done)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.observe()
		}
	}
}

func (t *PeakTracker) observe() { t.note(CurrentRSS()) }

// note records an RSS reading taken elsewhere (the kernel's counters lag a little,
// so a snapshot may exceed the high-water mark read later).
func (t *PeakTracker) note(r uint64) {
	for {
		old := t.sampled.Load()
		if r <= old || t.sampled.CompareAndSwap(old, r) {
			return
		}
	}
}

// Stop ends the measurement and returns the peak RSS in bytes and how it was
// measured ("VmHWM" or "sampled").
func (t *PeakTracker) Stop() (uint64, string) {
	close(t.stop)
	<-t.done
	t.observe()
	if t.hwm {
		if v, ok := readHWM(); ok {
			return max(v, t.sampled.Load()), "VmHWM"
		}
	}
	return t.sampled.Load(), "sampled"
}

// resetHWM resets the peak RSS the kernel keeps for this process; false when
// unsupported.
func resetHWM() bool {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return false
	}
	_, ok := readHWM()
	return ok
}

func readHWM() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	v, ok := parseKB(b)["VmHWM"]
	return v, ok
}
