package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
	"github.com/edgerun/edgerun/tokenizer"
)

// cmdQuantize writes a quantized copy of a model: a bitsandbytes 4-bit Hugging Face
// directory for nf4/fp4, a GGUF file for the ggml types.
func cmdQuantize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("quantize", stderr)
	typ := fs.String("type", "nf4", "target type: nf4, fp4 (bitsandbytes directory) or q4_0, iq4_nl, q8_0, q4_1, q4_k, q6_k (GGUF file)")
	bs := fs.Int("blocksize", 64, "bitsandbytes blocksize (nf4/fp4)")
	noDQ := fs.Bool("no-double-quant", false, "nf4/fp4: do not quantize the block scales again (bnb_4bit_use_double_quant=false)")
	storage := fs.String("quant-storage", "uint8", "nf4/fp4: bnb_4bit_quant_storage (uint8, bfloat16, float16, float32)")
	tokPath := fs.String("tokenizer", "", "separate tokenizer file (llama2.c tokenizer.bin)")
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
	progress := progressLine(stderr, *quiet, "quantize "+t.String())
	if t == int4.NF4 || t == int4.FP4 {
		err = loader.WriteHFBnb(out, ck, loader.BnbWriteOptions{Type: t, Blocksize: *bs, DoubleQuant: !*noDQ, QuantStorage: *storage, Progress: progress})
	} else {
		err = writeQuantizedGGUF(out, ck, t, progress)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%v)\n", out, t)
	return nil
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

// writeQuantizedGGUF writes ck as a GGUF file whose F32/F16/BF16 projection weights are
// quantized to t (rows not a multiple of the 32-element block keep their type). A GGUF
// source keeps its metadata; other sources get llama.cpp-style metadata from their
// configuration and tokenizer, with HF Q/K rows permuted to GGUF's "llama" layout.
func writeQuantizedGGUF(path string, ck *loader.Checkpoint, t int4.Type, progress func(int, int)) error {
	var meta []loader.KV
	permute := false
	if ck.Format == "gguf" {
		for _, kv := range ck.MetaKVs() {
			if kv.Key != "general.quantization_version" {
				meta = append(meta, kv)
			}
		}
	} else {
		var err error
		if meta, permute, err = ggufMetaFromConfig(ck); err != nil {
			return err
		}
	}
	meta = append(meta, loader.KV{Key: "general.quantization_version", Value: uint32(2)})
	type job struct {
		src *loader.Tensor
		dst *loader.Tensor
	}
	var jobs []job
	var infos []*loader.Tensor
	for _, name := range ck.Order {
		src := ck.Tensors[name]
		dst := &loader.Tensor{Name: name, Type: src.Type, Shape: src.Shape}
		float := src.Type == int4.F32 || src.Type == int4.F16 || src.Type == int4.BF16
		if runtime.IsProjectionWeight(name) && float && len(src.Shape) == 2 {
			if _, err := int4.RowBytes(t, src.Cols()); err == nil {
				dst.Type = t
			}
		}
		if !src.Type.Supported() || (src.Type.Quantized() && src.Type >= 1000) {
			dst.Type = int4.F32 // edgerun-only row types (NF4/FP4) become F32 in GGUF
		}
		jobs = append(jobs, job{src, dst})
		infos = append(infos, dst)
	}
	w, err := loader.NewGGUFWriter(path, meta, infos)
	if err != nil {
		return err
	}
	c := ck.Config
	for i, j := range jobs {
		data, err := convertTensor(j.src, j.dst.Type, permute, c)
		if err == nil {
			err = w.WriteTensor(j.dst.Name, data)
		}
		if err != nil {
			w.Abort()
			return fmt.Errorf("%s: tensor %s: %w", path, j.src.Name, err)
		}
		if progress != nil {
			progress(i+1, len(jobs))
		}
	}
	return w.Close()
}

// convertTensor re-encodes src as type t, permuting HF Q/K rows to the GGUF layout
// when permute is set.
func convertTensor(src *loader.Tensor, t int4.Type, permute bool, c loader.Config) ([]byte, error) {
	isQK := strings.HasSuffix(src.Name, ".attn_q.weight") || strings.HasSuffix(src.Name, ".attn_k.weight") ||
		strings.HasSuffix(src.Name, ".attn_q.bias") || strings.HasSuffix(src.Name, ".attn_k.bias")
	if t == src.Type && !(permute && isQK) {
		return src.Data, nil
	}
	x := make([]float32, src.Elems())
	if err := int4.DequantizeRow(src.Type, src.Data, x); err != nil {
		return nil, err
	}
	cols := src.Cols()
	if len(src.Shape) == 1 {
		cols = 1
	}
	if permute && isQK {
		heads := c.Heads
		if strings.Contains(src.Name, ".attn_k.") {
			heads = c.KVHeads
		}
		rows := len(x) / cols
		if rows%heads != 0 || (rows/heads)%2 != 0 {
			return nil, errors.New("rows do not split into heads of even size")
		}
		hd := rows / heads
		y := make([]float32, len(x))
		for h := 0; h < heads; h++ {
			for i := 0; i < hd/2; i++ {
				for half := 0; half < 2; half++ {
					dst := (h*hd + 2*i + half) * cols
					s := (h*hd + half*hd/2 + i) * cols
					copy(y[dst:dst+cols], x[s:s+cols])
				}
			}
		}
		x = y
	}
	rowLen := src.Cols()
	rb, err := int4.RowBytes(t, rowLen)
	if err != nil {
		return nil, err
	}
	data := make([]byte, len(x)/rowLen*rb)
	for r := 0; r < len(x)/rowLen; r++ {
		if err := int4.QuantizeRow(t, x[r*rowLen:(r+1)*rowLen], data[r*rb:(r+1)*rb]); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// ggufMetaFromConfig builds llama.cpp metadata for a non-GGUF checkpoint. permute is
// true when the weights are in HF rotate-half layout but the GGUF architecture ("llama")
// expects interleaved pairs.
func ggufMetaFromConfig(ck *loader.Checkpoint) ([]loader.KV, bool, error) {
	c := ck.Config
	arch := c.Arch
	if arch == "mistral" {
		arch = "llama"
	}
	if arch != "llama" && arch != "qwen2" {
		return nil, false, fmt.Errorf("%s: architecture %q cannot be written as GGUF", ck.Path, c.Arch)
	}
	permute := c.RopeNeox && arch == "llama"
	if !c.RopeNeox && arch == "qwen2" {
		return nil, false, fmt.Errorf("%s: qwen2 weights in interleaved RoPE layout", ck.Path)
	}
	u := func(v int) uint32 { return uint32(v) }
	p := arch + "."
	meta := []loader.KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.name", Value: "edgerun quantize"},
		{Key: p + "context_length", Value: u(c.Context)},
		{Key: p + "embedding_length", Value: u(c.Dim)},
		{Key: p + "feed_forward_length", Value: u(c.FFN)},
		{Key: p + "block_count", Value: u(c.Layers)},
		{Key: p + "attention.head_count", Value: u(c.Heads)},
		{Key: p + "attention.head_count_kv", Value: u(c.KVHeads)},
		{Key: p + "attention.layer_norm_rms_epsilon", Value: c.RMSEps},
		{Key: p + "rope.freq_base", Value: c.RopeBase},
		{Key: p + "rope.dimension_count", Value: u(c.RopeDim)},
		{Key: p + "vocab_size", Value: u(c.Vocab)},
	}
	if c.Heads > 0 && c.HeadDim != c.Dim/c.Heads {
		meta = append(meta, loader.KV{Key: p + "attention.key_length", Value: u(c.HeadDim)}, loader.KV{Key: p + "attention.value_length", Value: u(c.HeadDim)})
	}
	if c.RopeScale > 0 && c.RopeScale != 1 {
		meta = append(meta, loader.KV{Key: p + "rope.scaling.type", Value: "linear"}, loader.KV{Key: p + "rope.scaling.factor", Value: c.RopeScale})
	}
	if v := ck.Vocab; v != nil {
		meta = append(meta, ggufVocabKVs(v)...)
	}
	return meta, permute, nil
}

// ggufVocabKVs encodes v as tokenizer.ggml.* metadata. A SentencePiece-style vocabulary
// from tokenizer.json has merges but no scores: each token gets the score -rank of the
// first merge producing it (other tokens -1e9), which orders llama.cpp's score-based
// merging like the rank-based one.
func ggufVocabKVs(v *tokenizer.Vocab) []loader.KV {
	k := "tokenizer.ggml."
	kvs := []loader.KV{{Key: k + "model", Value: v.Model}}
	if v.Pre != "" {
		kvs = append(kvs, loader.KV{Key: k + "pre", Value: v.Pre})
	}
	kvs = append(kvs, loader.KV{Key: k + "tokens", Value: v.Tokens})
	scores := v.Scores
	if scores == nil && v.Model == "llama" {
		id := map[string]int{}
		for i, p := range v.Tokens {
			id[p] = i
		}
		scores = make([]float32, len(v.Tokens))
		for i := range scores {
			scores[i] = -1e9
		}
		for r, m := range v.Merges {
			if a, b, ok := strings.Cut(m, " "); ok {
				if i, ok := id[a+b]; ok && scores[i] == -1e9 {
					scores[i] = -float32(r)
				}
			}
		}
	}
	if scores != nil {
		kvs = append(kvs, loader.KV{Key: k + "scores", Value: scores})
	}
	if v.Types != nil {
		kvs = append(kvs, loader.KV{Key: k + "token_type", Value: v.Types})
	}
	if v.Model == "gpt2" && len(v.Merges) > 0 {
		kvs = append(kvs, loader.KV{Key: k + "merges", Value: v.Merges})
	}
	for _, id := range []struct {
		key string
		v   int
	}{{"bos_token_id", v.BOS}, {"eos_token_id", v.EOS}, {"unknown_token_id", v.UNK}, {"padding_token_id", v.PAD}, {"eot_token_id", v.EOT}} {
		if id.v >= 0 {
			kvs = append(kvs, loader.KV{Key: k + id.key, Value: uint32(id.v)})
		}
	}
	kvs = append(kvs,
		loader.KV{Key: k + "add_bos_token", Value: v.AddBOS},
		loader.KV{Key: k + "add_eos_token", Value: v.AddEOS})
	if v.Model == "llama" {
		kvs = append(kvs, loader.KV{Key: k + "add_space_prefix", Value: v.AddSpacePrefix})
	}
	return kvs
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
