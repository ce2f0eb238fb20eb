package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgerun/edgerun/onnx"
	"github.com/edgerun/edgerun/runtime"
)

// cmdExport writes a model as an ONNX graph for ONNX Runtime (edgerun export).
func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	model := fs.String("m", "", "model file: GGUF or llama2.c .bin (required)")
	out := fs.String("o", "", "output .onnx file (required)")
	int4Mode := fs.String("int4", "auto", "4-bit linears: auto (MatMulBnb4 for NF4/FP4, MatMulNBits otherwise), nbits (MatMulNBits for all), bnb4 (MatMulBnb4; NF4/FP4 only)")
	block := fs.Int("block-size", 32, "MatMulNBits block size for requantized weights (16..256, a power of two; Q4_0 is exact only at 32 without zero points)")
	zp := fs.Bool("zero-points", false, "MatMulNBits with 4-bit zero points (asymmetric requantization)")
	quantize := fs.String("quantize", "", "quantize F32/F16/BF16 projection weights first: nf4, fp4, q4_0, iq4_nl, q8_0")
	var adapters adapterList
	fs.Var(&adapters, "adapter", "LoRA adapter PATH[:SCALE] to merge into the exported weights (repeatable)")
	mergeType := fs.String("merge-type", "base", "format of merged weights: base (each weight's own, requantized) or f32")
	loraInputs := fs.Bool("lora-inputs", false, "add LoRA graph inputs blk.N.PROJ.lora_a [in, r] and .lora_b [r, out] (scale folded into lora_b) to every projection, for hot-swapping adapters without a new session")
	contrib := fs.Bool("contrib", false, "RMSNorm as ONNX Runtime's SimplifiedLayerNormalization, RoPE as RotaryEmbedding")
	gqa := fs.Bool("gqa", false, "attention as ONNX Runtime's GroupQueryAttention")
	ctxSize := fs.Int("c", 0, "longest sequence the RoPE tables cover (0 = the model's context)")
	acc := fs.Int("accuracy-level", 0, "MatMulNBits accuracy_level: 0 (float32 activations) or 4 (int8 activations)")
	external := fs.Bool("external-data", false, "store the weights in OUT.data beside the model (needed above 2 GiB)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *model == "" || *out == "" {
		fmt.Fprintln(stderr, "edgerun export: -m MODEL and -o OUT.onnx are required")
		return errUsage
	}
	opts := []runtime.Option{runtime.WithContext(*ctxSize), runtime.WithThreads(1)}
	var eng *runtime.Engine
	var err error
	if *quantize != "" {
		eng, err = openQuantized(*model, *quantize, opts)
	} else {
		eng, err = runtime.Open(*model, opts...)
	}
	if err != nil {
		return err
	}
	defer eng.Close()
	if len(adapters) > 0 {
		var set []runtime.AdapterScale
		for i, a := range adapters {
			name := fmt.Sprintf("%d:%s", i, filepath.Base(a.path))
			if _, err := eng.LoadAdapter(name, a.path); err != nil {
				return err
			}
			set = append(set, runtime.AdapterScale{Name: name, Scale: a.scale})
		}
		mrep, err := eng.Merge(set, runtime.MergeOptions{Type: *mergeType})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "edgerun export: merged %d adapter(s) into %d weights (relative requantization error %.3g)\n", len(set), mrep.Tensors, mrep.RelErr)
	}
	m, rep, err := eng.ExportONNX(onnx.ExportOptions{Int4: *int4Mode, BlockSize: *block, ZeroPoints: *zp, LoRA: *loraInputs, Contrib: *contrib, GQA: *gqa, Context: *ctxSize, AccuracyLevel: *acc})
	if err != nil {
		return err
	}
	var data []*onnx.Tensor
	if *external {
		data = m.ExternalizeData(filepath.Base(*out)+".data", 1024)
		f, err := os.Create(*out + ".data")
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if _, err := onnx.WriteExternalData(w, data); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes%s): %d nodes, %d initializers\n", *out, len(b),
		map[bool]string{true: fmt.Sprintf(", weights in %s.data", *out)}[*external], len(m.Graph.Nodes), len(m.Graph.Initializers))
	for _, line := range strings.Split(strings.TrimSpace(rep.Summary()), "\n") {
		fmt.Fprintf(stdout, "  %s\n", line)
	}
	return nil
}

// backendFlags registers --backend, --ort-lib and --int4 (the ONNX Runtime backend's
// choices) on fs and returns a function giving the runtime options they select.
func backendFlags(fs *flag.FlagSet) func() []runtime.Option {
	backend := fs.String("backend", runtime.BackendNative, "compute backend: native, or ort (ONNX Runtime; needs a build with -tags ort and the library: --ort-lib, $ONNXRUNTIME_LIB or `make ort-setup`)")
	lib := fs.String("ort-lib", "", "path of the ONNX Runtime shared library (--backend ort)")
	o := ortFlags(fs)
	return func() []runtime.Option {
		oo := o()
		oo.Library = *lib
		return []runtime.Option{runtime.WithBackend(*backend), runtime.WithORT(oo)}
	}
}

// ortFlags registers the ort backend's export choices (--int4, --ort-accuracy,
// --ort-no-lora, --ort-contrib) on fs.
func ortFlags(fs *flag.FlagSet) func() runtime.ORTOptions {
	int4Mode := fs.String("int4", "auto", "--backend ort: 4-bit linears as auto, nbits (MatMulNBits) or bnb4 (MatMulBnb4)")
	acc := fs.Int("ort-accuracy", 0, "--backend ort: MatMulNBits accuracy_level (0 = float32 activations, 4 = int8 activations like the native kernels)")
	noLora := fs.Bool("ort-no-lora", false, "--backend ort: leave out the LoRA graph inputs (no live adapters; saves their zero-rank products)")
	contrib := fs.Bool("ort-contrib", false, "--backend ort: RMSNorm as SimplifiedLayerNormalization, RoPE as RotaryEmbedding (contrib ops)")
	gqa := fs.Bool("ort-gqa", false, "--backend ort: attention as GroupQueryAttention (contrib op)")
	return func() runtime.ORTOptions {
		return runtime.ORTOptions{Int4: *int4Mode, AccuracyLevel: *acc, NoLoRA: *noLora, Contrib: *contrib, GQA: *gqa}
	}
}
