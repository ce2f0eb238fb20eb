package bench_test

import (
	"context"
	"fmt"
	"os"

	"github.com/edgerun/edgerun/bench"
)

// ExampleRun measures a model the way `edgerun bench -m MODEL -p 64 -n 32 -r 3` does
// and prints llama-bench's markdown table, then reads one figure from Go.
func ExampleRun() {
	rep, err := bench.Run(context.Background(), bench.Config{
		Models: []string{"model.gguf"},
		Prompt: []int{64},
		Gen:    []int{32},
		Reps:   3,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if err := rep.Write(os.Stdout, "md"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c := rep.Configs[0]
	fmt.Printf("peak RSS %d MiB, of which %d MiB file-backed at the end\n", c.PeakRSS>>20, c.Memory.RSSFile>>20)
}
