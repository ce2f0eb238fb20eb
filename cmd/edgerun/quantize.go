package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// cmdQuantize writes a quantized copy of a model: a bitsandbytes 4-bit Hugging Face
// directory for nf4/fp4, a GGUF file for the ggml types.
func cmdQuantize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quantize", stderr)
	typ := fs.String("type", "nf4", "target type: nf4, fp4 (bitsandbytes directory) or q4_0, iq4_nl, q8_0, q4_1, q4_k, q6_k (GGUF file)")
	bs := fs.Int("blocksize", 64, "bitsandbytes blocksize (nf4/fp4)")
	noDQ := fs.Bool("no-double-quant", false, "nf4/fp4: do not quantize the block scales again (bnb_4bit_use_double_quant=false)")
	storage := fs.String("quant-storage", "uint8", "nf4/fp4: bnb_4bit_quant_storage (uint8, bfloat16, float16, float32)")
	head := fs.Bool("quantize-head", false, "nf4/fp4: quantize an untied lm_head too (transformers' llm_int8_skip_modules=[]); by default it keeps its float dtype")
	tokPath := fs.String("tokenizer", "", "separate tokenizer file (llama2.c tokenizer.bin)")
	requant := fs.Bool("allow-requantize", false, "also quantize projection weights that are already quantized in another type (adds a second rounding error)")
	quiet := fs.Bool("q", false, "no progress line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edgerun quantize IN OUT [--type nf4|fp4|q4_0|iq4_nl|q8_0] [flags]\n\nIN is a model (HF directory, GGUF, llama2.c .bin); OUT is a directory for nf4/fp4, a GGUF file otherwise.")
		fs.PrintDefaults()
	}
	// Flags may come before or after the two paths.
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	in, out := pos[0], pos[1]
	t, err := runtime.ParseQuantizeType(*typ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	var lopts []loader.Option
	if *tokPath != "" {
		lopts = append(lopts, loader.WithTokenizer(*tokPath))
	}
	ck, err := loader.Open(in, lopts...)
	if err != nil {
		return err
	}
	defer ck.Close()
	if name, typ, n := quantizedProjections(ck, t); n > 0 && !*requant {
		return fmt.Errorf("%s: %d projection weights are already quantized (%s is %v); quantizing them again to %v adds a second rounding error to the first: start from the F16/BF16/F32 model, or pass --allow-requantize", in, n, name, typ, t)
	}
	progress := progressLine(stderr, *quiet, "quantize "+t.String())
	if int4.IsBnb4(t) {
		err = loader.WriteHFBnb(out, ck, loader.BnbWriteOptions{Type: t, Blocksize: *bs, DoubleQuant: !*noDQ, QuantStorage: *storage, QuantizeHead: *head, Progress: progress})
	} else {
		err = loader.WriteGGUFQuantized(out, ck, loader.GGUFQuantizeOptions{Type: t, Requantize: *requant, Progress: progress})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%v)\n", out, t)
	return nil
}

// quantizedProjections counts the projection weights of ck stored in a quantized type
// other than t, and names the first.
func quantizedProjections(ck *loader.Checkpoint, t int4.Type) (first string, typ int4.Type, n int) {
	for _, name := range ck.Order {
		tt := ck.Tensors[name]
		if tt == nil || !runtime.IsProjectionWeight(name) || !tt.Type.Quantized() || int4.Bnb4Base(tt.Type) == int4.Bnb4Base(t) {
			continue
		}
		if n == 0 {
			first, typ = name, tt.Type
		}
		n++
	}
	return first, typ, n
}

// progressLine returns a progress callback that redraws one line on stderr when it is a
// terminal, and nil otherwise.
func progressLine(w io.Writer, quiet bool, what string) func(done, total int) {
	f, ok := w.(*os.File)
	if quiet || !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(done, total int) {
		const width = 30
		n := width * done / max(total, 1)
		fmt.Fprintf(f, "\r%s [%s%s] %d/%d tensors", what, strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
		if done == total {
			fmt.Fprintln(f)
		}
	}
}

// openQuantized opens model for `edgerun run --quantize TYPE`: its F32/F16/BF16
// projection weights are quantized at load (nf4: bitsandbytes, blocksize 64, double
// quantization).
func openQuantized(model, typ string, opts []runtime.Option) (*runtime.Engine, error) {
	t, err := runtime.ParseQuantizeType(typ)
	if err != nil {
		return nil, err
	}
	e, _, err := runtime.OpenQuantized(model, runtime.QuantizeOptions{Type: t}, opts...)
	return e, err
}
