package bench

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bandwidth is a measured memory read bandwidth.
type Bandwidth struct {
	BytesPerSecond float64 // best pass
	BufferBytes    int64   // size of the buffer read (several times the last-level cache)
	Threads        int
	Passes         int
}

// DefaultBandwidthBytes returns the buffer size MeasureBandwidth uses by default:
// eight times the last-level cache when the system reports it, at least 256 MiB and
// at most 1 GiB.
func DefaultBandwidthBytes() int64 {
	size := int64(256 << 20)
	if llc := lastLevelCache(); 8*llc > size {
		size = min(8*llc, 1<<30)
	}
	return size
}

// lastLevelCache returns the size of CPU 0's largest cache from sysfs (0 when unknown).
func lastLevelCache() int64 {
	var best int64
	for i := range 8 {
		b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cache/index" + strconv.Itoa(i) + "/size")
		if err != nil {
			break
		}
		s := strings.TrimSpace(string(b))
		mult := int64(1)
		switch {
		case strings.HasSuffix(s, "K"):
			mult, s = 1<<10, strings.TrimSuffix(s, "K")
		case strings.HasSuffix(s, "M"):
			mult, s = 1<<20, strings.TrimSuffix(s, "M")
		}
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v*mult > best {
			best = v * mult
		}
	}
	return best
}

// MeasureBandwidth measures the memory read bandwidth the way STREAM's sum kernel
// does: threads goroutines each sum their share of a buffer of size bytes (rounded
// to whole 64-byte lines), passes times; the best pass counts. The buffer is
// returned to the operating system afterwards.
func MeasureBandwidth(size int64, threads, passes int) Bandwidth {
	threads = max(threads, 1)
	passes = max(passes, 1)
	words := int(size/64) * 8
	buf := make([]uint64, words)
	for i := range buf {
		buf[i] = uint64(i)
	}
	var best time.Duration
	var sink uint64
	for range passes {
		var wg sync.WaitGroup
		sums := make([]uint64, threads)
		chunk := (words/8 + threads - 1) / threads * 8
		start := time.Now()
		for t := range threads {
			lo, hi := min(t*chunk, words), min((t+1)*chunk, words)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sums[t] = sumWords(buf[lo:hi])
			}()
		}
		wg.Wait()
		d := time.Since(start)
		for _, s := range sums {
			sink += s
		}
		if best == 0 || d < best {
			best = d
		}
	}
	bw := Bandwidth{BufferBytes: int64(words) * 8, Threads: threads, Passes: passes}
	if best > 0 {
		bw.BytesPerSecond = float64(bw.BufferBytes) / best.Seconds()
	}
	benchSink = sink
	buf = nil
	debug.FreeOSMemory()
	return bw
}

var benchSink uint64

// sumWords adds up x with eight independent accumulators (one 64-byte line per
// iteration) so that the loop is bound by memory, not by the add latency.
func sumWords(x []uint64) uint64 {
	var s0, s1, s2, s3, s4, s5, s6, s7 uint64
	n := len(x) &^ 7
	for i := 0; i < n; i += 8 {
		l := (*[8]uint64)(x[i : i+8])
		s0 += l[0]
		s1 += l[1]
		s2 += l[2]
		s3 += l[3]
		s4 += l[4]
		s5 += l[5]
		s6 += l[6]
		s7 += l[7]
	}
	for _, v := range x[n:] {
		s0 += v
	}
	return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
}
