//go:build !(darwin || linux)

package runtime

import (
	"fmt"
	goruntime "runtime"

	"github.com/edgerun/edgerun/loader"
)

// lockWeights fails: this system has no mlock edgerun can use.
func lockWeights(ckpt *loader.Checkpoint) error {
	return fmt.Errorf("runtime: %s: --mlock is not supported on %s: %w", ckpt.Path, goruntime.GOOS, ErrMlock)
}
