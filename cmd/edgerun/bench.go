package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/edgerun/edgerun/bench"
)

// listFlag is a repeatable flag of comma-separated values ("-t 1,2 -t 4").
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func (l listFlag) ints(name string) ([]int, error) {
	var out []int
	for _, s := range l {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-%s: %q is not a count", name, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// pathFlag is a repeatable flag of whole values (model paths may hold commas).
type pathFlag []string

func (p *pathFlag) String() string     { return strings.Join(*p, " ") }
func (p *pathFlag) Set(v string) error { *p = append(*p, v); return nil }

func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	var models pathFlag
	var threads, prompt, gen, pg, depth listFlag
	var adapters adapterList
	fs.Var(&models, "m", "model file (GGUF or llama2.c .bin); repeat for several configurations side by side")
	fs.Var(&threads, "t", "thread counts, comma-separated (default: one per CPU)")
	fs.Var(&prompt, "p", "prompt-processing test sizes, comma-separated (default 512; 0 = none)")
	fs.Var(&gen, "n", "text-generation test sizes, comma-separated (default 128; 0 = none)")
	fs.Var(&depth, "d", "context depths, comma-separated (llama-bench -d): each test also runs after this many tokens in the cache, e.g. -d 0,512 (default 0)")
	fs.Var(&pg, "pg", "prompt+generation tests as pp,tg pairs (e.g. 512,128; repeatable)")
	fs.Var(&adapters, "adapter", "LoRA adapter PATH[:SCALE] (PEFT directory or GGUF LoRA); repeat for several: each adds a configuration beside the base, with switch latency, merge time and live-vs-merged tg t/s")
	reps := fs.Int("r", 0, "repetitions of each test after one warm-up (default 5; --quick 2)")
	format := fs.String("o", "md", "output format: "+strings.Join(bench.Formats, ", "))
	quick := fs.Bool("quick", false, "small tests (pp16, tg16, 2 repetitions, small bandwidth probe): seconds on a tiny model")
	svg := fs.String("svg", "", "also draw tokens/s and RSS per configuration as an SVG bar chart into this file")
	var backends listFlag
	fs.Var(&backends, "backend", "compute backends, comma-separated or repeated: native (default), ort (ONNX Runtime; a build with -tags ort): each model runs on each, side by side")
	noMmap := fs.Bool("no-mmap", false, "read the weights into memory instead of mapping the file (llama-bench --mmap 0)")
	ortLib := fs.String("ort-lib", "", "path of the ONNX Runtime shared library (--backend ort)")
	ortOpts := ortFlags(fs)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (go tool pprof format) into this file")
	bw := fs.Int("bandwidth-mib", 0, "size of the memory-bandwidth probe buffer in MiB (0 = default, -1 = skip the probe)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgerun bench: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if len(models) == 0 {
		fmt.Fprintln(stderr, "edgerun bench: -m MODEL is required")
		return errUsage
	}
	if !slices.Contains(bench.Formats, *format) {
		fmt.Fprintf(stderr, "edgerun bench: -o %q: want one of %s\n", *format, strings.Join(bench.Formats, ", "))
		return errUsage
	}
	cfg := bench.Config{Models: models, Backends: backends, NoMmap: *noMmap, Reps: *reps, Quick: *quick, BandwidthBytes: int64(*bw) << 20,
		ORT: ortOpts()}
	cfg.ORT.Library = *ortLib
	for _, a := range adapters {
		if a.scale == 0 {
			return usageErr(stderr, fmt.Errorf("--adapter %s:0: a zero scale is the base, which is always measured", a.path))
		}
		cfg.Adapters = append(cfg.Adapters, bench.Adapter{Path: a.path, Scale: a.scale})
	}
	var err error
	if cfg.Threads, err = threads.ints("t"); err != nil {
		return usageErr(stderr, err)
	}
	if cfg.Prompt, err = prompt.ints("p"); err != nil {
		return usageErr(stderr, err)
	}
	if cfg.Gen, err = gen.ints("n"); err != nil {
		return usageErr(stderr, err)
	}
	if cfg.Depth, err = depth.ints("d"); err != nil {
		return usageErr(stderr, err)
	}
	pgs, err := pg.ints("pg")
	if err != nil || len(pgs)%2 != 0 {
		return usageErr(stderr, fmt.Errorf("--pg wants pp,tg pairs, got %q", pg.String()))
	}
	for i := 0; i < len(pgs); i += 2 {
		cfg.PG = append(cfg.PG, bench.PG{NPrompt: pgs[i], NGen: pgs[i+1]})
	}
	// -p 0 / -n 0 (only zeros) turn the default test off, as in llama-bench.
	cfg.NoPrompt = len(prompt) > 0 && !slices.ContainsFunc(cfg.Prompt, func(n int) bool { return n > 0 })
	cfg.NoGen = len(gen) > 0 && !slices.ContainsFunc(cfg.Gen, func(n int) bool { return n > 0 })
	if *bw < 0 {
		cfg.BandwidthBytes = -1
	}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		cfg.Progress = func(msg string) { fmt.Fprintf(f, "\r\033[K%s", msg) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("edgerun bench: -cpuprofile %s: %w", *cpuProfile, err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	rep, err := bench.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if err := rep.Write(stdout, *format); err != nil {
		return err
	}
	if *svg != "" {
		f, err := os.Create(*svg)
		if err != nil {
			return err
		}
		if err := rep.WriteSVG(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

func usageErr(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "edgerun bench: %v\n", err)
	return errUsage
}

// isTerminal reports whether f is a character device (a terminal, for stderr).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
