package runtime

import (
	"fmt"
	"regexp"
	"runtime"
	"sync"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
)

// QuantizeOptions say how QuantizeCheckpoint quantizes a float checkpoint at load (what
// QLoRA does to an fp16/bf16 base model).
type QuantizeOptions struct {
	// Type is the target: int4.NF4 or int4.FP4 (bitsandbytes' blockwise algorithm, then
	// the lossless row repack Bnb4.RowType picks: NF4_64/FP4_64 when the blocksize and
	// row length are multiples of 64, else NF4/FP4; int4.NF4_64/FP4_64 ask for the 64
	// layout wherever it fits), or a ggml type with a quantizer (int4.Q4_0,
	// int4.IQ4_NL, int4.Q8_0, int4.Q4_1, int4.Q4_K, int4.Q6_K).
	Type int4.Type
	// Blocksize is the bitsandbytes blocksize for NF4/FP4 (0 = 64, bitsandbytes' default).
	Blocksize int
	// NoDoubleQuant turns off bitsandbytes' double quantization of the block scales
	// (on by default, as `--quantize nf4` promises).
	NoDoubleQuant bool
}

// QuantizeReport lists what QuantizeCheckpoint did.
type QuantizeReport struct {
	// Quantized are the tensors now stored in the target type.
	Quantized []string
	// Fallback are projection tensors whose row length is not a multiple of the type's
	// 32-element block. For NF4/FP4 they were quantized with bitsandbytes' flat blocks
	// and dequantized back to F32 (so they carry exactly the 4-bit error a bitsandbytes
	// checkpoint has); for ggml types they were left in their float type.
	Fallback []string
}

// projectionWeight matches the 2-D projection weights quantization applies to;
// embeddings, norms and the output matrix are left as they are.
var projectionWeight = regexp.MustCompile(`^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$`)

// IsProjectionWeight reports whether name is one of the 2-D projection weights
// (blk.N.attn_q/k/v/output, ffn_gate/up/down) that quantization applies to.
func IsProjectionWeight(name string) bool { return projectionWeight.MatchString(name) }

// QuantizeCheckpoint replaces the F32/F16/BF16 projection weights of ckpt with
// quantized copies (heap buffers; the memory map is untouched). Already quantized
// tensors are left alone. It must run before NewEngine.
func QuantizeCheckpoint(ckpt *loader.Checkpoint, o QuantizeOptions) (*QuantizeReport, error) {
	t := o.Type
	bnb := int4.IsBnb4(t)
	if !t.Quantized() {
		return nil, fmt.Errorf("runtime: cannot quantize to %v: not a quantized type", t)
	}
	bs := o.Blocksize
	if bs == 0 {
		bs = 64
	}
	if bnb && bs <= 0 {
		return nil, fmt.Errorf("runtime: bitsandbytes blocksize %d", bs)
	}
	var names []string
	for _, name := range ckpt.Order {
		tt := ckpt.Tensors[name]
		if tt == nil || !IsProjectionWeight(name) || len(tt.Shape) != 2 {
			continue
		}
		if tt.Type != int4.F32 && tt.Type != int4.F16 && tt.Type != int4.BF16 {
			continue
		}
		names = append(names, name)
	}
	rep := &QuantizeReport{}
	results := make([]*loader.Tensor, len(names))
	fallback := make([]bool, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], fallback[i], errs[i] = quantizeTensor(ckpt.Tensors[name], t, bs, !o.NoDoubleQuant)
		}()
	}
	wg.Wait()
	for i, name := range names {
		if errs[i] != nil {
			return nil, fmt.Errorf("runtime: %s: quantizing %s to %v: %w", ckpt.Path, name, t, errs[i])
		}
		if results[i] != nil {
			ckpt.Tensors[name] = results[i]
		}
		if fallback[i] {
			rep.Fallback = append(rep.Fallback, name)
		} else {
			rep.Quantized = append(rep.Quantized, name)
		}
	}
	return rep, nil
}

// quantizeTensor returns the quantized replacement of tt (nil when it is kept as is).
func quantizeTensor(tt *loader.Tensor, t int4.Type, bs int, dq bool) (*loader.Tensor, bool, error) {
	rows, cols := tt.Rows(), tt.Cols()
	x := make([]float32, rows*cols)
	if err := int4.DequantizeRow(tt.Type, tt.Data, x); err != nil {
		return nil, false, err
	}
	if int4.IsBnb4(t) {
		q, err := int4.QuantizeBnb4(int4.Bnb4Base(t), x, bs, dq)
		if err != nil {
			return nil, false, err
		}
		rt := q.RowType(cols)
		if t != int4.Bnb4Base(t) && q.CanRepackAs(t, cols) {
			rt = t
		}
		if rt != 0 {
			data, err := q.RepackAs(rt, rows, cols)
			if err != nil {
				return nil, false, err
			}
			return &loader.Tensor{Name: tt.Name, Type: rt, Shape: tt.Shape, Data: data}, false, nil
		}
		if err := q.Dequantize(x); err != nil {
			return nil, false, err
		}
		data := make([]byte, 4*len(x))
		if err := int4.QuantizeRow(int4.F32, x, data); err != nil {
			return nil, false, err
		}
		return &loader.Tensor{Name: tt.Name, Type: int4.F32, Shape: tt.Shape, Data: data}, true, nil
	}
	rb, err := int4.RowBytes(t, cols)
	if err != nil {
		return nil, true, nil // row length not a multiple of the block: keep the float tensor
	}
	data := make([]byte, rows*rb)
	if err := int4.QuantizeRows(t, x[:rows*cols], cols, data); err != nil {
		return nil, false, err
	}
	return &loader.Tensor{Name: tt.Name, Type: t, Shape: tt.Shape, Data: data}, false, nil
}

// ParseQuantizeType parses a --quantize value: nf4, fp4 or a ggml type name (q4_0,
// iq4_nl, q8_0, ...).
func ParseQuantizeType(s string) (int4.Type, error) {
	t, err := int4.ParseType(s)
	if err != nil || !t.Quantized() {
		return 0, fmt.Errorf("runtime: unknown quantization type %q (nf4, fp4, nf4_64, fp4_64, q4_0, iq4_nl, q8_0, q4_1, q4_k, q6_k)", s)
	}
	return t, nil
}

// OpenQuantized is Open followed by QuantizeCheckpoint with o before the model is
// bound: the F32/F16/BF16 projection weights run quantized.
func OpenQuantized(path string, q QuantizeOptions, opts ...Option) (*Engine, *QuantizeReport, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var lopts []loader.Option
	if o.tokenizer != "" {
		lopts = append(lopts, loader.WithTokenizer(o.tokenizer))
	}
	if o.mem.noMmap {
		lopts = append(lopts, loader.WithoutMmap())
	}
	ckpt, err := loader.Open(path, lopts...)
	if err != nil {
		return nil, nil, err
	}
	rep, err := QuantizeCheckpoint(ckpt, q)
	if err != nil {
		ckpt.Close()
		return nil, nil, err
	}
	e, err := NewEngine(ckpt, opts...)
	if err != nil {
		ckpt.Close()
		return nil, nil, err
	}
	return e, rep, nil
}
