package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/runtime"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	model := fs.String("m", "", "model file: GGUF or llama2.c .bin (default: the built-in random demo model)")
	tokPath := fs.String("tokenizer", "", "separate tokenizer file (llama2.c tokenizer.bin); default: looked for beside the model")
	prompt := fs.String("p", "", "prompt")
	n := fs.Int("n", 128, "number of tokens to generate")
	temp := fs.Float64("temp", 0.8, "temperature; 0 = greedy (default from an HF model's generation_config.json when it has one: do_sample false = greedy)")
	topK := fs.Int("top-k", 40, "top-k sampling (0 = off; default from generation_config.json top_k)")
	topP := fs.Float64("top-p", 0.95, "top-p sampling (1 = off; default from generation_config.json top_p)")
	minP := fs.Float64("min-p", 0.05, "min-p sampling (0 = off; default from generation_config.json min_p)")
	rep := fs.Float64("repeat-penalty", 1.0, "repetition penalty (1 = off; default from generation_config.json repetition_penalty)")
	repN := fs.Int("repeat-last-n", 64, "tokens the repetition penalty looks back on")
	seed := fs.Int64("seed", -1, "random seed (-1 = from the clock)")
	threads := fs.Int("t", 0, "compute threads (0 = one per CPU)")
	ctxSize := fs.Int("c", 0, "context size (0 = the model's)")
	kvType := fs.String("kv-type", "f32", "KV-cache precision: f32, f16 (half the memory) or q8_0 (about a quarter; head size a multiple of 32)")
	asJSON := fs.Bool("json", false, "print one JSON object with token ids, text and timings instead of streaming text")
	ignoreEOS := fs.Bool("ignore-eos", false, "keep generating past the end-of-text token")
	quantize := fs.String("quantize", "", "quantize F32/F16/BF16 projection weights at load: nf4 (bitsandbytes, double quant, blocksize 64), fp4, q4_0, iq4_nl, q8_0")
	var adapters adapterList
	fs.Var(&adapters, "adapter", "LoRA adapter PATH[:SCALE] (PEFT directory or GGUF LoRA file; repeatable; scale default 1)")
	merge := fs.Bool("merge", false, "merge the --adapter set into the weights instead of applying it live")
	noMmap := fs.Bool("no-mmap", false, "read the weights into memory instead of mapping the file")
	mlock := fs.Bool("mlock", false, "lock the model's weights in RAM (fails with a clear error when not permitted)")
	backendOpts := backendFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgerun run: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	kvt, err := int4.ParseType(*kvType)
	if err != nil {
		fmt.Fprintf(stderr, "edgerun run: --kv-type %q: choose f32, f16 or q8_0\n", *kvType)
		return errUsage
	}
	opts := []runtime.Option{runtime.WithThreads(*threads), runtime.WithContext(*ctxSize), runtime.WithMlock(*mlock), runtime.WithMmap(!*noMmap), runtime.WithKVType(kvt)}
	opts = append(opts, backendOpts()...)
	if *tokPath != "" {
		opts = append(opts, runtime.WithTokenizer(*tokPath))
	}
	var eng *runtime.Engine
	start := time.Now()
	if *model == "" {
		eng, err = runtime.NewEngine(runtime.DemoCheckpoint(), opts...)
	} else if *quantize != "" {
		eng, err = openQuantized(*model, *quantize, opts)
	} else {
		eng, err = runtime.Open(*model, opts...)
	}
	if err != nil {
		return err
	}
	defer eng.Close()
	loadTime := time.Since(start)
	if *model == "" && !*asJSON {
		fmt.Fprintln(stderr, "edgerun: no -m given: running the built-in demo model (random weights, so the text is gibberish)")
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	generationDefaults(eng.Model.Ckpt.Meta, setFlags, temp, topK, topP, minP, rep)
	s := uint64(*seed)
	if *seed < 0 {
		s = uint64(time.Now().UnixNano())
	}
	gopts := runtime.GenerateOptions{
		MaxTokens: *n,
		IgnoreEOS: *ignoreEOS,
		Sampler: runtime.SamplerConfig{
			Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
			RepeatPenalty: float32(*rep), RepeatLastN: *repN, Seed: s,
		},
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sess := eng.NewSession()
	if err := applyAdapters(eng, sess, adapters, *merge, stderr, *asJSON); err != nil {
		return err
	}
	var onToken func(int, string) error
	if !*asJSON {
		fmt.Fprint(stdout, *prompt)
		onToken = func(_ int, text string) error {
			_, err := io.WriteString(stdout, text)
			return err
		}
	}
	res, err := sess.Generate(ctx, *prompt, gopts, onToken)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintln(stdout)
		fmt.Fprintf(stderr, "edgerun: %d prompt tokens at %.1f tok/s, %d generated at %.2f tok/s (%d threads, load %d ms)\n",
			len(res.PromptTokens), res.PrefillTokensPerSecond(), len(res.Tokens), res.DecodeTokensPerSecond(), eng.Threads(), loadTime.Milliseconds())
		return nil
	}
	out := struct {
		PromptTokens []int  `json:"prompt_tokens"`
		Tokens       []int  `json:"tokens"`
		Text         string `json:"text"`
		StopReason   string `json:"stop_reason"`
		Timings      struct {
			LoadMs            float64 `json:"load_ms"`
			PrefillMs         float64 `json:"prefill_ms"`
			DecodeMs          float64 `json:"decode_ms"`
			PrefillTokensPerS float64 `json:"prefill_tokens_per_s"`
			DecodeTokensPerS  float64 `json:"decode_tokens_per_s"`
			Threads           int     `json:"threads"`
		} `json:"timings"`
	}{PromptTokens: res.PromptTokens, Tokens: res.Tokens, Text: res.Text, StopReason: res.StopReason}
	out.Timings.LoadMs = ms(loadTime)
	out.Timings.PrefillMs = ms(res.PrefillTime)
	out.Timings.DecodeMs = ms(res.DecodeTime)
	out.Timings.PrefillTokensPerS = res.PrefillTokensPerSecond()
	out.Timings.DecodeTokensPerS = res.DecodeTokensPerSecond()
	out.Timings.Threads = eng.Threads()
	enc := json.NewEncoder(stdout)
	return enc.Encode(out)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// generationDefaults replaces the --temp, --top-k, --top-p, --min-p and
// --repeat-penalty defaults by an HF model's generation_config.json values (loader
// keeps them in Meta as generation_config.<key>) for the flags the user did not set:
// do_sample false means greedy (temperature 0), as in transformers; temperature, top_k,
// top_p, min_p and repetition_penalty are taken as they are when present.
func generationDefaults(meta map[string]any, set map[string]bool, temp *float64, topK *int, topP, minP, rep *float64) {
	num := func(key string) (float64, bool) {
		f, ok := meta["generation_config."+key].(float64)
		return f, ok && f >= 0
	}
	if f, ok := num("temperature"); ok && !set["temp"] {
		*temp = f
	}
	if f, ok := num("top_k"); ok && !set["top-k"] && f == float64(int(f)) {
		*topK = int(f)
	}
	if f, ok := num("top_p"); ok && !set["top-p"] && f <= 1 {
		*topP = f
	}
	if f, ok := num("min_p"); ok && !set["min-p"] && f <= 1 {
		*minP = f
	}
	if f, ok := num("repetition_penalty"); ok && !set["repeat-penalty"] && f > 0 {
		*rep = f
	}
	if ds, ok := meta["generation_config.do_sample"].(bool); ok && !ds && !set["temp"] {
		*temp = 0
	}
}
