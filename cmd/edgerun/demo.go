package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgerun/edgerun/bench"
	"github.com/edgerun/edgerun/runtime"
)

// cmdDemo runs the story the project is about on the demo model it trained itself
// (models/demo: an NF4 base and two LoRA adapters): generate with adapter A,
// hot-swap to adapter B in the same session, merge B into the weights and generate
// again, then print one bench line.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	model := fs.String("m", "models/demo", "demo model directory (bnb-4bit base with adapter-fairy.gguf and adapter-log.gguf)")
	prompt := fs.String("p", "", "prompt (empty: every run starts a story from the BOS token)")
	n := fs.Int("n", 100, "tokens to generate per run (stops earlier at the end of the story)")
	temp := fs.Float64("temp", 0.7, "sampling temperature (0 = greedy)")
	seed := fs.Uint64("seed", 1, "sampling seed")
	threads := fs.Int("t", 0, "threads (0 = all cores)")
	a := fs.String("a", "adapter-fairy.gguf", "adapter A (file or directory under -m, or a path)")
	b := fs.String("b", "adapter-log.gguf", "adapter B (file or directory under -m, or a path)")
	if err := parse(fs, args); err != nil {
		return err
	}
	under := func(p string) string {
		if filepath.IsAbs(p) || strings.ContainsRune(p, filepath.Separator) {
			return p
		}
		return filepath.Join(*model, p)
	}
	peak := bench.StartPeak()
	var opts []runtime.Option
	if *threads > 0 {
		opts = append(opts, runtime.WithThreads(*threads))
	}
	start := time.Now()
	e, err := runtime.Open(*model, opts...)
	if err != nil {
		return err
	}
	defer e.Close()
	c := e.Model.Config
	for _, ad := range []struct{ name, path string }{{"A", under(*a)}, {"B", under(*b)}} {
		if _, err := e.LoadAdapter(ad.name, ad.path); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "edgerun demo: %s (dim %d, %d layers, %d-token vocabulary), loaded with adapters A=%s and B=%s in %s\n",
		*model, c.Dim, c.Layers, c.Vocab, filepath.Base(under(*a)), filepath.Base(under(*b)), time.Since(start).Round(time.Millisecond))
	p := fmt.Sprintf("%q", *prompt)
	if *prompt == "" {
		p = "none (each run starts a story from <s>)"
	}
	fmt.Fprintf(stdout, "prompt: %s; up to %d tokens per run, %s\n\n", p, *n, samplingDesc(*temp, *seed))

	s := e.NewSession()
	defer s.Close()
	var tokens int
	var decode time.Duration
	gen := func(label string) error {
		s.Reset()
		res, err := s.Generate(context.Background(), *prompt, runtime.GenerateOptions{MaxTokens: *n,
			Sampler: runtime.SamplerConfig{Temperature: float32(*temp), TopK: 40, Seed: *seed}}, nil)
		if err != nil {
			return err
		}
		tokens += len(res.Tokens) - 1
		decode += res.DecodeTime
		fmt.Fprintf(stdout, "%s\n  %s\n\n", label, strings.ReplaceAll(strings.TrimSpace(*prompt+res.Text), "\n", "\n  "))
		return nil
	}
	if err := gen("base model (no adapter):"); err != nil {
		return err
	}
	if err := s.SetAdapters([]runtime.AdapterScale{{Name: "A", Scale: 1}}); err != nil {
		return err
	}
	if err := gen("adapter A (" + filepath.Base(under(*a)) + "):"); err != nil {
		return err
	}
	t0 := time.Now()
	err = s.SetAdapters([]runtime.AdapterScale{{Name: "B", Scale: 1}})
	swap := time.Since(t0)
	if err != nil {
		return err
	}
	if err := gen(fmt.Sprintf("adapter B (%s), hot-swapped in the same session in %s:", filepath.Base(under(*b)), fmtDur(swap))); err != nil {
		return err
	}
	if err := s.SetAdapters(nil); err != nil {
		return err
	}
	t0 = time.Now()
	rep, err := e.Merge([]runtime.AdapterScale{{Name: "B", Scale: 1}}, runtime.MergeOptions{})
	mergeT := time.Since(t0)
	if err != nil {
		return err
	}
	if err := gen(fmt.Sprintf("adapter B merged into the weights (%d tensors requantized to the base format in %s, relative error %.2g), no adapter active:",
		rep.Tensors, fmtDur(mergeT), rep.RelErr)); err != nil {
		return err
	}
	rss, _ := peak.Stop()
	tps := 0.0
	if decode > 0 {
		tps = float64(tokens) / decode.Seconds()
	}
	fmt.Fprintf(stdout, "bench: %.0f tokens/s decode (%d threads), peak RSS %.1f MiB, adapter switch %s, merge %s\n",
		tps, e.Threads(), float64(rss)/(1<<20), fmtDur(swap), fmtDur(mergeT))
	return nil
}

func samplingDesc(temp float64, seed uint64) string {
	if temp <= 0 {
		return "greedy"
	}
	return fmt.Sprintf("temperature %g, top-k 40, seed %d", temp, seed)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d.Nanoseconds())/1e6)
	}
	return d.Round(time.Millisecond).String()
}
