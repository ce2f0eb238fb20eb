// Package bench is the measurement harness behind `edgerun bench`: llama-bench
// compatible prompt-processing (pp) and text-generation (tg) tests, plus what
// llama-bench lacks — load time, time to first token, per-token decode latency
// percentiles, peak RSS split into file-backed (memory-mapped weights) and anonymous
// memory, Go heap, KV-cache bytes and a memory-bandwidth roofline. With LoRA adapters
// (Config.Adapters) each adapter is a configuration beside the base, with its switch
// latency, merge time and live-versus-merged decode speed.
//
// Run measures; Report.Write prints the result as markdown, CSV, JSON or JSON lines
// with llama-bench's field names, and Report.WriteSVG draws it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/runtime"
)

// ErrConfig is returned for an unusable benchmark configuration.
var ErrConfig = errors.New("bench: bad configuration")

// ErrBackend is returned for a backend that is not built yet.
var ErrBackend = errors.New("bench: backend not available")

// KernelPath names the kernel implementation the runtime uses ("avx2", "generic",
// ...); a variable so that other backends can report theirs.
var KernelPath = kernels.Implementation

// PG is one prompt+generation test: NPrompt tokens as one batch, then NGen tokens one
// at a time (llama-bench's --pg).
type PG struct{ NPrompt, NGen int }

// Config describes a benchmark. Zero fields take llama-bench's defaults (or the
// quick ones when Quick is set).
type Config struct {
	Models  []string // model files (GGUF or llama2.c .bin); one configuration each
	Backend string   // "native" (default) or "ort"; see Backends
	// Backends, when set, measures every model on each of these backends ("native",
	// "ort"), side by side (the ratio column compares with the first); it overrides
	// Backend.
	Backends []string
	// ORT configures the ort backend (library path, 4-bit export mode).
	ORT runtime.ORTOptions
	// NoMmap reads the weights into memory instead of mapping the file
	// (runtime.WithMmap(false), llama-bench's --mmap 0).
	NoMmap  bool
	Threads []int // thread counts (default: one per CPU)
	Prompt  []int // pp test sizes (default 512; quick 16); 0 entries are skipped
	Gen     []int // tg test sizes (default 128; quick 16); 0 entries are skipped
	PG      []PG  // pp+tg tests (default none)
	// Depth lists context depths (llama-bench's -d): every test also runs with this
	// many random tokens already in the cache, evaluated before the timed part (default
	// 0 only). A depth d > 0 is named in the test as "tg32 @ d64".
	Depth []int
	Reps  int  // repetitions per test after one warm-up (default 5; quick 2)
	Quick bool // small tests and a smaller bandwidth buffer: seconds on a tiny model
	// NoPrompt and NoGen drop the default pp/tg tests (like llama-bench's -p 0 / -n 0).
	NoPrompt, NoGen bool
	// BandwidthBytes is the size of the bandwidth probe buffer (default
	// DefaultBandwidthBytes; quick 64 MiB); negative skips the probe.
	BandwidthBytes int64
	Seed           uint64 // token ids are drawn from this seed (default 1)
	// Adapters adds, after each model's base (no adapter) configuration, one
	// configuration per adapter: the tests run with the adapter live, then the adapter
	// figures are measured (see AdapterResult and the Row fields Merge, LiveTS,
	// MergedTS and LiveVsMerged).
	Adapters []Adapter
	// SwitchIters is the number of timed SetAdapters calls behind the switch-latency
	// percentiles (default 10000; quick 1000).
	SwitchIters int
	// Progress, when not nil, is called with a one-line description of each step.
	Progress func(msg string)
}

// Adapter is one LoRA adapter to benchmark: a PEFT directory or a GGUF LoRA file,
// applied with Scale (0 means 1).
type Adapter struct {
	Path  string
	Scale float32
}

// AdapterResult holds the adapter figures of a configuration with an adapter.
type AdapterResult struct {
	Path    string
	Scale   float32
	Format  string // "peft" or "gguf"
	Rank    int    // largest module rank
	Modules int    // adapted weights
	Bytes   int64  // memory held by the factors
	// Load is the time of Engine.LoadAdapter on the second (warm) open.
	Load time.Duration
	// SwitchP50 and SwitchP99 are percentiles of Session.SetAdapters switching between
	// the adapter's set and the empty set (the base), over SwitchN calls.
	SwitchP50, SwitchP99 time.Duration
	SwitchN              int
	// MergeError is why Engine.Merge refused the adapter (the merged figures are then
	// zero).
	MergeError string
}

// Report is the result of Run.
type Report struct {
	Start       time.Time
	CPU         string
	GoVersion   string
	BuildCommit string
	Bandwidth   Bandwidth // zero when skipped
	Configs     []ConfigResult
	Rows        []Row
}

// ConfigResult holds the per-configuration figures (one model on one backend).
type ConfigResult struct {
	Index     int
	Model     string // path
	ModelType string // "llama 1.1B Q4_0"
	ModelSize int64  // bytes of all tensors
	FileSize  int64
	Params    int64
	Backend   string
	Kernel    string
	// LoadCold is the first open of the file in this process (the page cache may
	// already hold it: "cold-ish"); LoadWarm the second open.
	LoadCold, LoadWarm time.Duration
	// TTFTCold is LoadCold plus the first prompt evaluation right after it
	// (TTFTPrompt tokens), which pays the page faults on the weights: what an app
	// sees at start-up.
	TTFTCold   time.Duration
	TTFTPrompt int
	PeakRSS    uint64 // bytes, over the whole configuration
	PeakMethod string // "VmHWM" or "sampled"
	Memory     Memory // after the tests, with the model still open
	KVBytes    int64  // largest KV cache seen
	// WeightBytesPerToken is what one decode step reads of the weights (every matrix,
	// one embedding row unless the embedding is also the output projection).
	WeightBytesPerToken int64
	// KVBytesPerPosition is what one decode step reads of the KV cache per past position.
	KVBytesPerPosition int64
	// Adapter describes the configuration's adapter; its Path is empty for a
	// configuration without one. TTFTCold then includes loading the adapter.
	Adapter AdapterResult
}

// Row is one test of one configuration at one thread count, like a llama-bench row.
type Row struct {
	Config    int // index into Report.Configs
	Threads   int
	Test      string // "pp512", "tg128", "pp512+tg128", "tg128 @ d512"
	NPrompt   int
	NGen      int
	NDepth    int // tokens in the cache before the test (Config.Depth)
	TestTime  time.Time
	SamplesNS []int64
	SamplesTS []float64
	AvgNS     float64
	StddevNS  float64
	AvgTS     float64
	StddevTS  float64
	// TTFT is the mean time to the first token's logits (the prompt evaluation) for
	// pp and pg tests.
	TTFT time.Duration
	// LatencyP50/P90/P99 are percentiles of the single-token decode steps (tg, pg).
	LatencyP50, LatencyP90, LatencyP99 time.Duration
	KVBytes                            int64
	// BytesPerToken, RooflineTS and RooflineFraction (tg rows, when the bandwidth
	// was measured): bytes one decode step reads on average, the tokens/s the
	// measured bandwidth would allow, and AvgTS as a fraction of it.
	BytesPerToken    int64
	RooflineTS       float64
	RooflineFraction float64
	// Ratio is AvgTS divided by that of the first configuration's row with the same
	// test and threads (0 when there is none).
	Ratio float64
	// Adapter figures, for configurations with an adapter. Merge is the time
	// Engine.Merge took to bake the adapter into the weights (in each weight's own
	// format) at this thread count, MergeRelErr its relative requantization error.
	// On tg rows, LiveTS and MergedTS are the tokens/s with the adapter live and
	// after Merge, measured in alternation (one engine each, repetition by
	// repetition) after the other tests and outside the peak-RSS window;
	// LiveVsMerged = LiveTS / MergedTS (below 1: the cost of keeping the adapter
	// unmerged).
	Merge          time.Duration
	MergeRelErr    float64
	LiveTS         float64
	LiveStddevTS   float64
	MergedTS       float64
	MergedStddevTS float64
	LiveVsMerged   float64
}

func (c *Config) fill() error {
	if len(c.Models) == 0 {
		return fmt.Errorf("%w: no model given", ErrConfig)
	}
	if c.Backend == "" {
		c.Backend = runtime.BackendNative
	}
	if len(c.Backends) == 0 {
		c.Backends = []string{c.Backend}
	}
	for _, b := range c.Backends {
		if b != runtime.BackendNative && b != runtime.BackendORT {
			return fmt.Errorf("%w: %q (native, ort)", ErrBackend, b)
		}
		if b == runtime.BackendORT && !runtime.ORTBuilt {
			return fmt.Errorf("%w: %w", ErrBackend, runtime.ErrNoORT)
		}
	}
	c.Backend = c.Backends[0]
	if len(c.Threads) == 0 {
		c.Threads = []int{goruntime.NumCPU()}
	}
	for _, t := range c.Threads {
		if t <= 0 {
			return fmt.Errorf("%w: thread count %d", ErrConfig, t)
		}
	}
	p, n, r := 512, 128, 5
	if c.Quick {
		p, n, r = 16, 16, 2
	}
	if len(c.Prompt) == 0 && !c.NoPrompt {
		c.Prompt = []int{p}
	}
	if len(c.Gen) == 0 && !c.NoGen {
		c.Gen = []int{n}
	}
	if c.Reps == 0 {
		c.Reps = r
	}
	if c.Reps < 0 {
		return fmt.Errorf("%w: %d repetitions", ErrConfig, c.Reps)
	}
	for _, v := range slices.Concat(c.Prompt, c.Gen, c.Depth) {
		if v < 0 {
			return fmt.Errorf("%w: negative test size %d", ErrConfig, v)
		}
	}
	for _, pg := range c.PG {
		if pg.NPrompt < 0 || pg.NGen < 0 || pg.NPrompt+pg.NGen == 0 {
			return fmt.Errorf("%w: pg test %d,%d", ErrConfig, pg.NPrompt, pg.NGen)
		}
	}
	if c.BandwidthBytes == 0 {
		c.BandwidthBytes = DefaultBandwidthBytes()
		if c.Quick {
			c.BandwidthBytes = 64 << 20
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.SwitchIters == 0 {
		c.SwitchIters = 10000
		if c.Quick {
			c.SwitchIters = 1000
		}
	}
	if c.SwitchIters < 0 {
		return fmt.Errorf("%w: %d switch iterations", ErrConfig, c.SwitchIters)
	}
	c.Adapters = slices.Clone(c.Adapters)
	for i, a := range c.Adapters {
		if a.Path == "" {
			return fmt.Errorf("%w: adapter %d has no path", ErrConfig, i+1)
		}
		if math.IsNaN(float64(a.Scale)) || math.IsInf(float64(a.Scale), 0) {
			return fmt.Errorf("%w: adapter %s: scale %v is not finite", ErrConfig, a.Path, a.Scale)
		}
		if a.Scale == 0 {
			c.Adapters[i].Scale = 1
		}
	}
	return nil
}

type test struct {
	name      string
	np, ng    int
	depth     int // tokens evaluated, untimed, before the test
	isPP, isG bool
}

func (c *Config) tests() []test {
	var ts []test
	for _, p := range c.Prompt {
		if p > 0 {
			ts = append(ts, test{name: fmt.Sprintf("pp%d", p), np: p})
		}
	}
	for _, n := range c.Gen {
		if n > 0 {
			ts = append(ts, test{name: fmt.Sprintf("tg%d", n), ng: n})
		}
	}
	for _, pg := range c.PG {
		switch {
		case pg.NGen == 0:
			ts = append(ts, test{name: fmt.Sprintf("pp%d", pg.NPrompt), np: pg.NPrompt})
		case pg.NPrompt == 0:
			ts = append(ts, test{name: fmt.Sprintf("tg%d", pg.NGen), ng: pg.NGen})
		default:
			ts = append(ts, test{name: fmt.Sprintf("pp%d+tg%d", pg.NPrompt, pg.NGen), np: pg.NPrompt, ng: pg.NGen})
		}
	}
	if len(c.Depth) == 0 {
		return ts
	}
	var at []test
	for _, d := range c.Depth {
		for _, t := range ts {
			if d > 0 {
				t.name, t.depth = fmt.Sprintf("%s @ d%d", t.name, d), d
			}
			at = append(at, t)
		}
	}
	return at
}

// Run measures every configuration of cfg and returns the report. It stops early
// with ctx's error when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.fill(); err != nil {
		return Report{}, err
	}
	tests := cfg.tests()
	if len(tests) == 0 {
		return Report{}, fmt.Errorf("%w: no tests (every size is 0)", ErrConfig)
	}
	rep := Report{Start: time.Now().UTC(), CPU: cpuInfo(), GoVersion: goruntime.Version(), BuildCommit: buildCommit()}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	if cfg.BandwidthBytes > 0 {
		progress("measuring memory bandwidth (%d MiB, %d threads)", cfg.BandwidthBytes>>20, slices.Max(cfg.Threads))
		rep.Bandwidth = MeasureBandwidth(cfg.BandwidthBytes, slices.Max(cfg.Threads), 5)
	}
	maxCtx := 1
	for _, t := range tests {
		maxCtx = max(maxCtx, t.depth+t.np+t.ng)
	}
	type job struct {
		path    string
		ad      *Adapter
		backend string
	}
	var jobs []job
	for _, path := range cfg.Models {
		for _, b := range cfg.Backends {
			jobs = append(jobs, job{path: path, backend: b})
			for k := range cfg.Adapters {
				jobs = append(jobs, job{path, &cfg.Adapters[k], b})
			}
		}
	}
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		bc := cfg
		bc.Backend = j.backend
		cr, rows, err := runConfig(ctx, &bc, i, j.path, j.ad, tests, maxCtx, progress)
		if err != nil {
			return rep, err
		}
		if rep.Bandwidth.BytesPerSecond > 0 {
			for j := range rows {
				r := &rows[j]
				if r.NPrompt == 0 && r.NGen > 0 && r.AvgTS > 0 {
					// A tg test starts from a cache of NDepth positions: step k reads
					// NDepth+k+1 of them. A live adapter's factors are read at every step too.
					r.BytesPerToken = cr.WeightBytesPerToken + cr.Adapter.Bytes + cr.KVBytesPerPosition*(int64(r.NDepth)+int64(r.NGen+1)/2)
					r.RooflineTS = rep.Bandwidth.BytesPerSecond / float64(r.BytesPerToken)
					r.RooflineFraction = r.AvgTS / r.RooflineTS
				}
			}
		}
		rep.Configs = append(rep.Configs, cr)
		rep.Rows = append(rep.Rows, rows...)
	}
	rep.fillRatios()
	return rep, nil
}

func (r *Report) fillRatios() {
	base := map[string]float64{}
	for _, row := range r.Rows {
		if row.Config == 0 {
			base[fmt.Sprintf("%s/%d", row.Test, row.Threads)] = row.AvgTS
		}
	}
	for i := range r.Rows {
		if b := base[fmt.Sprintf("%s/%d", r.Rows[i].Test, r.Rows[i].Threads)]; b > 0 {
			r.Rows[i].Ratio = r.Rows[i].AvgTS / b
		}
	}
}

// options are the runtime options of a configuration at a thread count.
func (c *Config) options(threads, maxCtx int) []runtime.Option {
	return []runtime.Option{runtime.WithThreads(threads), runtime.WithContext(maxCtx), runtime.WithBackend(c.Backend), runtime.WithORT(c.ORT), runtime.WithMmap(!c.NoMmap)}
}

// freeMemory returns freed Go memory to the OS so that the next peak starts low.
func freeMemory() {
	goruntime.GC()
	debug.FreeOSMemory()
}

func runConfig(ctx context.Context, cfg *Config, idx int, path string, ad *Adapter, tests []test, maxCtx int, progress func(string, ...any)) (ConfigResult, []Row, error) {
	cr := ConfigResult{Index: idx, Model: path, Backend: cfg.Backend, Kernel: KernelPath()}
	if cfg.Backend == runtime.BackendORT {
		cr.Kernel = "onnxruntime"
	}
	if fi, err := os.Stat(path); err == nil {
		cr.FileSize = fi.Size()
	}
	name := filepath.Base(path)
	if ad != nil {
		cr.Adapter = AdapterResult{Path: ad.Path, Scale: ad.Scale}
		name += " +" + filepath.Base(ad.Path)
	}
	freeMemory()
	peak := StartPeak()
	stopped := false
	defer func() {
		if !stopped {
			peak.Stop()
		}
	}()

	// Cold-ish open and the first prompt right after it.
	progress("%s: first open", name)
	opts := cfg.options(cfg.Threads[0], maxCtx)
	t0 := time.Now()
	eng, err := runtime.Open(path, opts...)
	if err != nil {
		return cr, nil, err
	}
	cr.LoadCold = time.Since(t0)
	describe(&cr, eng)
	cr.TTFTPrompt = 1
	for _, t := range tests {
		if t.np > 0 {
			cr.TTFTPrompt = t.np
			break
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(idx)))
	vocab := eng.Model.Config.Vocab
	s := eng.NewSession()
	t1 := time.Now()
	if ad != nil {
		if _, err := loadAdapter(eng, s, ad); err != nil {
			eng.Close()
			return cr, nil, err
		}
	}
	_, err = s.Eval(randomTokens(rng, vocab, cr.TTFTPrompt))
	cr.TTFTCold = cr.LoadCold + time.Since(t1)
	eng.Close()
	if err != nil {
		return cr, nil, fmt.Errorf("bench: %s: %w", path, err)
	}

	var rows []Row
	for ti, threads := range cfg.Threads {
		opts := cfg.options(threads, maxCtx)
		t0 := time.Now()
		eng, err := runtime.Open(path, opts...)
		if err != nil {
			return cr, nil, err
		}
		if ti == 0 {
			cr.LoadWarm = time.Since(t0)
		}
		s := eng.NewSession()
		if ad != nil {
			t0 := time.Now()
			info, err := loadAdapter(eng, s, ad)
			if err != nil {
				eng.Close()
				return cr, nil, err
			}
			if ti == 0 {
				cr.Adapter.Load = time.Since(t0)
				cr.Adapter.Format, cr.Adapter.Rank, cr.Adapter.Modules, cr.Adapter.Bytes = info.Format, info.Rank, len(info.Targets), info.LiveBytes
			}
		}
		for _, t := range tests {
			row, err := runTest(ctx, s, rng, vocab, t, cfg.Reps, func(rep int) {
				progress("%s: t=%d %s rep %d/%d", name, eng.Threads(), t.name, rep, cfg.Reps)
			})
			if err != nil {
				eng.Close()
				return cr, nil, err
			}
			row.Config, row.Threads = idx, eng.Threads()
			cr.KVBytes = max(cr.KVBytes, row.KVBytes)
			rows = append(rows, row)
		}
		if ti == len(cfg.Threads)-1 {
			cr.Memory = ReadMemory()
			peak.note(cr.Memory.RSS)
		}
		eng.Close()
	}
	cr.PeakRSS, cr.PeakMethod = peak.Stop()
	stopped = true
	freeMemory()
	if ad != nil {
		// Outside the peak window: the merged weights are a second copy.
		if err := measureAdapter(ctx, cfg, &cr, rows, path, ad, tests, maxCtx, rng, vocab, func(format string, args ...any) {
			progress("%s: %s", name, fmt.Sprintf(format, args...))
		}); err != nil {
			return cr, nil, err
		}
		freeMemory()
	}
	return cr, rows, nil
}

// adapterName is the name a benchmarked adapter is registered under.
const adapterName = "bench"

// loadAdapter registers ad in eng and, when s is not nil, makes it s's active set.
func loadAdapter(eng *runtime.Engine, s *runtime.Session, ad *Adapter) (runtime.AdapterInfo, error) {
	info, err := eng.LoadAdapter(adapterName, ad.Path)
	if err == nil && s != nil {
		err = s.SetAdapters([]runtime.AdapterScale{{Name: adapterName, Scale: ad.Scale}})
	}
	if err != nil {
		return info, fmt.Errorf("bench: adapter %s: %w", ad.Path, err)
	}
	return info, nil
}

// measureAdapter measures the adapter figures of a configuration: the switch latency
// (on the first thread count), and at every thread count the merge time and the tg
// tokens/s with the adapter live and merged, alternating between two engines
// repetition by repetition so that both see the same machine.
func measureAdapter(ctx context.Context, cfg *Config, cr *ConfigResult, rows []Row, path string, ad *Adapter, tests []test, maxCtx int, rng *rand.Rand, vocab int, progress func(string, ...any)) error {
	var tg []test
	for _, t := range tests {
		if t.np == 0 && t.ng > 0 && !slices.ContainsFunc(tg, func(u test) bool { return u.name == t.name }) {
			tg = append(tg, t)
		}
	}
	for ti, threads := range cfg.Threads {
		if err := measureAdapterAt(ctx, cfg, cr, rows, path, ad, tg, threads, ti == 0, maxCtx, rng, vocab, progress); err != nil {
			return err
		}
		if cr.Adapter.MergeError != "" {
			return nil
		}
	}
	return nil
}

// measureAdapterAt is measureAdapter at one thread count.
func measureAdapterAt(ctx context.Context, cfg *Config, cr *ConfigResult, rows []Row, path string, ad *Adapter, tg []test, threads int, first bool, maxCtx int, rng *rand.Rand, vocab int, progress func(string, ...any)) error {
	set := []runtime.AdapterScale{{Name: adapterName, Scale: ad.Scale}}
	opts := cfg.options(threads, maxCtx)
	live, err := runtime.Open(path, opts...)
	if err != nil {
		return err
	}
	defer live.Close()
	ls := live.NewSession()
	if _, err := loadAdapter(live, ls, ad); err != nil {
		return err
	}
	if first {
		progress("adapter switch latency (%d calls)", cfg.SwitchIters)
		p50, p99, err := switchLatency(ctx, live, set, cfg.SwitchIters)
		if err != nil {
			return err
		}
		cr.Adapter.SwitchP50, cr.Adapter.SwitchP99, cr.Adapter.SwitchN = p50, p99, cfg.SwitchIters
	}
	merged, err := runtime.Open(path, opts...)
	if err != nil {
		return err
	}
	defer merged.Close()
	if _, err := loadAdapter(merged, nil, ad); err != nil {
		return err
	}
	nt := live.Threads()
	progress("t=%d merge", nt)
	t0 := time.Now()
	mrep, err := merged.Merge(set, runtime.MergeOptions{})
	took := time.Since(t0)
	if err != nil {
		// Merging can be refused (a lora_B bias): say why, keep the live figures.
		cr.Adapter.MergeError = err.Error()
		return nil
	}
	for i := range rows {
		if rows[i].Threads == nt {
			rows[i].Merge, rows[i].MergeRelErr = took, mrep.RelErr
		}
	}
	ms := merged.NewSession()
	for _, t := range tg {
		a := newTester(ls, rng, vocab, t)
		b := newTester(ms, rng, vocab, t)
		if err := a.warmUp(ctx); err != nil {
			return err
		}
		if err := b.warmUp(ctx); err != nil {
			return err
		}
		for r := range max(cfg.Reps, 1) {
			progress("t=%d %s live vs merged rep %d/%d", nt, t.name, r+1, cfg.Reps)
			x, y := a, b
			if r%2 == 1 {
				x, y = b, a
			}
			if err := x.rep(ctx); err != nil {
				return err
			}
			if err := y.rep(ctx); err != nil {
				return err
			}
		}
		lr, mr := a.finish(), b.finish()
		for i := range rows {
			row := &rows[i]
			if row.Test == t.name && row.Threads == nt {
				row.LiveTS, row.LiveStddevTS = lr.AvgTS, lr.StddevTS
				row.MergedTS, row.MergedStddevTS = mr.AvgTS, mr.StddevTS
				if mr.AvgTS > 0 {
					row.LiveVsMerged = lr.AvgTS / mr.AvgTS
				}
			}
		}
	}
	return nil
}

// switchLatency times n calls of SetAdapters on a fresh session of eng, alternating
// between set and the empty set, and returns the 50th and 99th percentiles.
func switchLatency(ctx context.Context, eng *runtime.Engine, set []runtime.AdapterScale, n int) (p50, p99 time.Duration, err error) {
	if n == 0 {
		return 0, 0, nil
	}
	s := eng.NewSession()
	defer s.Close()
	sets := [2][]runtime.AdapterScale{set, nil}
	lat := make([]time.Duration, n)
	for i := range lat {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
		}
		t0 := time.Now()
		err := s.SetAdapters(sets[i%2])
		lat[i] = time.Since(t0)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: adapter switch: %w", err)
		}
	}
	slices.Sort(lat)
	return percentile(lat, 0.50), percentile(lat, 0.99), nil
}

// describe fills the model figures of cr from an open engine.
func describe(cr *ConfigResult, eng *runtime.Engine) {
	m := eng.Model
	c := m.Config
	cr.ModelSize = m.Ckpt.WeightBytes()
	cr.Params = m.ParamCount()
	bytesBy := map[int4.Type]int64{}
	_, hasOutput := m.Ckpt.Tensors["output.weight"]
	for name, t := range m.Ckpt.Tensors {
		n := int64(len(t.Data))
		if len(t.Shape) == 2 {
			bytesBy[t.Type] += n
		}
		if name == "token_embd.weight" && hasOutput && t.Rows() > 0 {
			n /= int64(t.Rows()) // one row per token
		}
		cr.WeightBytesPerToken += n
	}
	var dom int4.Type
	var domBytes int64 = -1
	for t, n := range bytesBy {
		if n > domBytes || (n == domBytes && t < dom) {
			dom, domBytes = t, n
		}
	}
	cr.ModelType = fmt.Sprintf("%s %s %s", c.Arch, sizeLabel(cr.Params), dom)
	cr.KVBytesPerPosition = int64(c.Layers) * int64(m.KVDim()) * 4 * 2
}

// sizeLabel prints a parameter count the way model names do: 260K, 15M, 1.1B.
func sizeLabel(n int64) string {
	f := float64(n)
	switch {
	case f >= 1e9:
		return trimZero(fmt.Sprintf("%.1f", f/1e9)) + "B"
	case f >= 1e6:
		return fmt.Sprintf("%.0fM", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.0fK", f/1e3)
	}
	return fmt.Sprint(n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

func randomTokens(rng *rand.Rand, vocab, n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	return ids
}

// tester runs the repetitions of one test on one session (see runTest).
type tester struct {
	s     *runtime.Session
	rng   *rand.Rand
	vocab int
	t     test
	steps []time.Duration
	ttft  time.Duration
	row   Row
}

func newTester(s *runtime.Session, rng *rand.Rand, vocab int, t test) *tester {
	return &tester{s: s, rng: rng, vocab: vocab, t: t, row: Row{Test: t.name, NPrompt: t.np, NGen: t.ng, NDepth: t.depth, TestTime: time.Now().UTC()}}
}

// once runs the test once from an empty cache (filled with t.depth random tokens
// first, untimed); a warm-up is not recorded.
func (x *tester) once(ctx context.Context, warm bool) (time.Duration, error) {
	t, s := x.t, x.s
	s.Reset()
	if t.depth > 0 {
		if _, err := s.Eval(randomTokens(x.rng, x.vocab, t.depth)); err != nil {
			return 0, err
		}
	}
	ng := t.ng
	if warm && ng > 0 {
		ng = 1 // llama-bench warms tg up with one token
	}
	prompt := randomTokens(x.rng, x.vocab, t.np)
	gen := randomTokens(x.rng, x.vocab, ng)
	start := time.Now()
	if t.np > 0 {
		if _, err := s.Eval(prompt); err != nil {
			return 0, err
		}
		if !warm {
			x.ttft += time.Since(start)
		}
	}
	for _, id := range gen {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		st := time.Now()
		if _, err := s.Eval([]int{id}); err != nil {
			return 0, err
		}
		if !warm {
			x.steps = append(x.steps, time.Since(st))
		}
	}
	return time.Since(start), nil
}

func (x *tester) warmUp(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := x.once(ctx, true); err != nil {
		return fmt.Errorf("bench: %s warm-up: %w", x.t.name, err)
	}
	return nil
}

func (x *tester) rep(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := x.once(ctx, false)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", x.t.name, err)
	}
	ns := d.Nanoseconds()
	x.row.SamplesNS = append(x.row.SamplesNS, ns)
	x.row.SamplesTS = append(x.row.SamplesTS, float64(x.t.np+x.t.ng)*1e9/float64(max(ns, 1)))
	return nil
}

// finish computes the row's statistics from the repetitions run so far.
func (x *tester) finish() Row {
	row := x.row
	row.KVBytes = x.s.KVCache().Bytes()
	ns := make([]float64, len(row.SamplesNS))
	for i, v := range row.SamplesNS {
		ns[i] = float64(v)
	}
	row.AvgNS, row.StddevNS = meanStddev(ns)
	row.AvgTS, row.StddevTS = meanStddev(row.SamplesTS)
	if x.t.np > 0 && len(row.SamplesNS) > 0 {
		row.TTFT = x.ttft / time.Duration(len(row.SamplesNS))
	}
	if len(x.steps) > 0 {
		steps := slices.Clone(x.steps)
		slices.Sort(steps)
		row.LatencyP50 = percentile(steps, 0.50)
		row.LatencyP90 = percentile(steps, 0.90)
		row.LatencyP99 = percentile(steps, 0.99)
	}
	return row
}

// runTest runs one warm-up and reps timed repetitions of t on s, each from an empty
// cache, like llama-bench: pp evaluates NPrompt random token ids as one batch, tg
// evaluates NGen single tokens, pg does both; no tokenization or sampling is timed.
func runTest(ctx context.Context, s *runtime.Session, rng *rand.Rand, vocab int, t test, reps int, onRep func(int)) (Row, error) {
	x := newTester(s, rng, vocab, t)
	if err := x.warmUp(ctx); err != nil {
		return x.row, err
	}
	for r := range max(reps, 1) {
		if onRep != nil {
			onRep(r + 1)
		}
		if err := x.rep(ctx); err != nil {
			return x.row, err
		}
	}
	return x.finish(), nil
}

// meanStddev returns the mean and the sample standard deviation (n-1), as llama-bench.
func meanStddev(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

// percentile returns the nearest-rank percentile p (0..1] of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

func cpuInfo() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return goruntime.GOOS + "/" + goruntime.GOARCH
}

func buildCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	return "unknown"
}
