//go:build darwin || linux

package runtime

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/edgerun/edgerun/loader"
)

// lockWeights locks every tensor of ckpt in RAM (mlock(2)); on failure it unlocks what
// it locked and says why. Unmapping the file (Checkpoint.Close) releases the locks.
func lockWeights(ckpt *loader.Checkpoint) error {
	var locked [][]byte
	for _, name := range ckpt.Order {
		t := ckpt.Tensors[name]
		if t == nil || len(t.Data) == 0 {
			continue
		}
		if err := syscall.Mlock(t.Data); err != nil {
			for _, b := range locked {
				_ = syscall.Munlock(b)
			}
			return mlockError(ckpt.Path, ckpt.WeightBytes(), err, memlockLimit())
		}
		locked = append(locked, t.Data)
	}
	return nil
}

// memlockLimit returns the "Max locked memory" line of /proc/self/limits ("" elsewhere).
func memlockLimit() string {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max locked memory"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				return f[0] + " " + strings.Join(f[2:], " ")
			}
		}
	}
	return ""
}

func mlockError(path string, weights int64, err error, limit string) error {
	msg := fmt.Sprintf("runtime: %s: --mlock: cannot lock %s of weights in memory: %v", path, formatBytes(weights), err)
	if limit != "" {
		msg += fmt.Sprintf(" (locked-memory limit: %s)", strings.TrimSpace(limit))
	}
	return fmt.Errorf("%s; raise the limit with `ulimit -l` (or LimitMEMLOCK= in a systemd unit), run with CAP_IPC_LOCK, or drop --mlock: %w", msg, ErrMlock)
}
