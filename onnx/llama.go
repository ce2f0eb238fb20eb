package onnx

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
)

// ErrUnsupported is returned for a model or option the exporter cannot express.
var ErrUnsupported = errors.New("onnx: cannot export")

// Weights returns the format and bytes of a GGUF-named tensor ("blk.0.attn_q.weight",
// "token_embd.weight", "output_norm.weight", "blk.0.attn_q.bias", ...), or ok=false when
// the model has none. Matrices are row-major [out, in] rows in their int4 type.
type Weights func(name string) (t int4.Type, data []byte, ok bool)

// Int4 modes: how ExportLlama writes 4-bit (and other quantized) linear weights.
const (
	// Int4Auto: MatMulBnb4 for NF4/FP4 (bit-exact), MatMulNBits for the other 4-bit
	// types (exact for Q4_0 at block 32 without zero points, requantized otherwise:
	// Q4_1, Q4_K, IQ4_NL). Float, Q8_0 and Q6_K weights are exact float MatMuls.
	Int4Auto = "auto"
	// Int4NBits: MatMulNBits for every 4-bit weight (NF4/FP4 are requantized).
	Int4NBits = "nbits"
	// Int4Bnb4: MatMulBnb4 for NF4/FP4; other quantized types are refused.
	Int4Bnb4 = "bnb4"
)

// ExportOptions control ExportLlama.
type ExportOptions struct {
	// Int4 is Int4Auto (""), Int4NBits or Int4Bnb4.
	Int4 string
	// BlockSize is the MatMulNBits block size for requantized weights (0: 32). Q4_0
	// re-expresses exactly only with 32 and no zero points.
	BlockSize int
	// ZeroPoints writes MatMulNBits with 4-bit zero points (asymmetric requantization).
	ZeroPoints bool
	// Context is the longest sequence the RoPE tables cover (positions 0..Context-1).
	Context int
	// RopeFreq are the RoPE inverse frequencies (RopeDim/2 of them, rope_freqs factors
	// applied) and RopeScale multiplies positions, exactly as the native kernel uses
	// them; nil means base^(−2i/RopeDim) and scale 1/Config.RopeScale.
	RopeFreq  []float32
	RopeScale float32
	// LoRA adds, for every projection of every layer, two graph inputs NAME.lora_a
	// [in, r] and NAME.lora_b [r, out] (NAME = "blk.N.attn_q" ...; the adapter scale
	// folded into lora_b) whose product is added to the projection's output. Feeding
	// zero-rank tensors turns them off; switching adapters is a new input set.
	LoRA bool
	// Contrib writes RMSNorm as ONNX Runtime's SimplifiedLayerNormalization and RoPE as
	// its com.microsoft RotaryEmbedding instead of standard ops.
	Contrib bool
	// GQA writes attention (RoPE, KV concatenation, causal grouped-query softmax) as one
	// com.microsoft GroupQueryAttention node per layer instead of standard ops.
	GQA bool
	// AccuracyLevel is MatMulNBits' accuracy_level attribute: 0 (float32 activations)
	// or 4 (ONNX Runtime quantizes activations to int8 per block, as edgerun's and
	// llama.cpp's 4-bit kernels do; faster, ~0.5% relative error per product).
	AccuracyLevel int
}

// LinearReport says how one linear weight was written.
type LinearReport struct {
	Name   string
	Source int4.Type
	Op     string // "MatMulNBits", "MatMulBnb4" or "MatMul"
	// Exact is true when the ONNX weight dequantizes to exactly the source values.
	Exact bool
	// MaxAbsErr and RMSErr compare the written weight with the source (zero when exact);
	// RelErr is MaxAbsErr over max |source|.
	MaxAbsErr, RMSErr, RelErr float64
	BlockSize                 int
}

// ExportReport lists what ExportLlama did with every linear weight.
type ExportReport struct {
	Linears []LinearReport
}

// Requantized returns the reports of the weights that were not re-expressed exactly.
func (r *ExportReport) Requantized() []LinearReport {
	var out []LinearReport
	for _, l := range r.Linears {
		if !l.Exact {
			out = append(out, l)
		}
	}
	return out
}

// Summary returns one line per (op, source type, exactness) with counts and the worst
// errors.
func (r *ExportReport) Summary() string {
	type key struct {
		op    string
		src   int4.Type
		exact bool
		bs    int
	}
	type agg struct {
		n            int
		maxAbs, maxR float64
	}
	var order []key
	m := map[key]*agg{}
	for _, l := range r.Linears {
		k := key{l.Op, l.Source, l.Exact, l.BlockSize}
		a, ok := m[k]
		if !ok {
			a = &agg{}
			m[k] = a
			order = append(order, k)
		}
		a.n++
		a.maxAbs = math.Max(a.maxAbs, l.MaxAbsErr)
		a.maxR = math.Max(a.maxR, l.RelErr)
	}
	var sb strings.Builder
	for _, k := range order {
		a := m[k]
		how := "exact"
		if !k.exact {
			how = fmt.Sprintf("requantized (max |err| %.3g, max rel %.3g)", a.maxAbs, a.maxR)
		}
		bs := ""
		if k.bs > 0 {
			bs = fmt.Sprintf(" block %d", k.bs)
		}
		fmt.Fprintf(&sb, "%-12s from %-6v%s: %d weights, %s\n", k.op, k.src, bs, a.n, how)
	}
	return sb.String()
}

// Graph input and output names (ONNX Runtime GenAI's conventions).
const (
	InputIDs    = "input_ids"
	PositionIDs = "position_ids"
	Logits      = "logits"
)

// PastKey names layer li's past-keys input, [1, kv_heads, past positions, head_dim]
// float32 (ONNX Runtime GenAI's name).
func PastKey(li int) string { return fmt.Sprintf("past_key_values.%d.key", li) }

// PastValue names layer li's past-values input (shaped like PastKey).
func PastValue(li int) string { return fmt.Sprintf("past_key_values.%d.value", li) }

// PresentKey names layer li's present-keys output: the past and the new positions.
func PresentKey(li int) string { return fmt.Sprintf("present.%d.key", li) }

// PresentValue names layer li's present-values output (shaped like PresentKey).
func PresentValue(li int) string { return fmt.Sprintf("present.%d.value", li) }

// ProjNames are the GGUF names of a layer's seven projections, in LoRA input order.
var ProjNames = []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}

// LoraA names the LoRA A input [in, rank] of projection proj (a ProjNames entry) of
// layer li.
func LoraA(li int, proj string) string { return fmt.Sprintf("blk.%d.%s.lora_a", li, proj) }

// LoraB names the LoRA B input [rank, out] (the adapter scale folded in) of projection
// proj of layer li.
func LoraB(li int, proj string) string { return fmt.Sprintf("blk.%d.%s.lora_b", li, proj) }

// ExportLlama writes the LLaMA-family decoder described by c with the weights w as an
// ONNX model: inputs input_ids and position_ids (int64 [1, seq]) and the past KV cache,
// outputs logits ([1, seq, vocab]) and the present KV cache. Linears are MatMulNBits or
// MatMulBnb4 (see ExportOptions.Int4) or float MatMul; attention is causal over the
// past and new positions, grouped-query.
func ExportLlama(c loader.Config, w Weights, o ExportOptions) (*Model, *ExportReport, error) {
	if err := checkConfig(&c); err != nil {
		return nil, nil, err
	}
	if o.GQA && c.HeadDim%16 != 0 {
		return nil, nil, fmt.Errorf("%w: GroupQueryAttention needs a head size that is a multiple of 16 (have %d)", ErrUnsupported, c.HeadDim)
	}
	switch o.Int4 {
	case "":
		o.Int4 = Int4Auto
	case Int4Auto, Int4NBits, Int4Bnb4:
	default:
		return nil, nil, fmt.Errorf("%w: --int4 %q (auto, nbits, bnb4)", ErrUnsupported, o.Int4)
	}
	if o.BlockSize == 0 {
		o.BlockSize = 32
	}
	if err := checkBlockSize(o.BlockSize); err != nil {
		return nil, nil, err
	}
	if o.Context <= 0 {
		o.Context = c.Context
		if o.Context <= 0 {
			o.Context = 2048
		}
	}
	x := &exporter{c: c, w: w, o: o, b: newBuilder("edgerun_llama"), rep: &ExportReport{}}
	if err := x.build(); err != nil {
		return nil, nil, err
	}
	m := &Model{
		IRVersion:    8,
		ProducerName: "edgerun",
		Opsets:       []OpsetID{{Domain: "", Version: 17}, {Domain: "com.microsoft", Version: 1}},
		Graph:        x.b.g,
		Metadata: []KeyValue{
			{"edgerun.arch", c.Arch}, {"edgerun.layers", fmt.Sprint(c.Layers)},
			{"edgerun.kv_heads", fmt.Sprint(c.KVHeads)}, {"edgerun.head_dim", fmt.Sprint(c.HeadDim)},
			{"edgerun.vocab", fmt.Sprint(c.Vocab)}, {"edgerun.context", fmt.Sprint(o.Context)},
			{"edgerun.lora", fmt.Sprint(o.LoRA)},
		},
	}
	return m, x.rep, nil
}

func checkConfig(c *loader.Config) error {
	if c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.FFN <= 0 || c.Vocab <= 0 {
		return fmt.Errorf("%w: incomplete configuration %+v", ErrUnsupported, *c)
	}
	if c.HeadDim == 0 {
		c.HeadDim = c.Dim / c.Heads
	}
	if c.RopeDim == 0 {
		c.RopeDim = c.HeadDim
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("%w: %d heads do not group over %d KV heads", ErrUnsupported, c.Heads, c.KVHeads)
	}
	if c.RopeDim != c.HeadDim {
		return fmt.Errorf("%w: partial RoPE (rope dim %d of head dim %d)", ErrUnsupported, c.RopeDim, c.HeadDim)
	}
	if c.RMSEps == 0 {
		c.RMSEps = 1e-5
	}
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	return nil
}

type exporter struct {
	c   loader.Config
	w   Weights
	o   ExportOptions
	b   *builder
	rep *ExportReport

	cos, sin   string // [1, seq, 1, half, 1] (adjacent pairs) or [1, seq, 1, 1, half] (neox)
	cosI, sinI string // the [context, half] tables (RotaryEmbedding's caches)
	seqlensK   string // GroupQueryAttention's seqlens_k (int32 [1]: total length - 1)
	totalLen   string // GroupQueryAttention's total_sequence_length (int32 scalar)
	mask       string // [group*seq, total] additive causal mask
}

func (x *exporter) weight(name string) (int4.Type, []byte, error) {
	t, data, ok := x.w(name)
	if !ok {
		return 0, nil, fmt.Errorf("%w: missing tensor %q", ErrUnsupported, name)
	}
	return t, data, nil
}

// floats returns tensor name dequantized to n float32 values.
func (x *exporter) floats(name string, n int) ([]float32, error) {
	t, data, err := x.weight(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	if err := int4.DequantizeRow(t, data, out); err != nil {
		return nil, fmt.Errorf("onnx: tensor %q: %w", name, err)
	}
	return out, nil
}

func (x *exporter) build() error {
	c, b := x.c, x.b
	hd, half := c.HeadDim, c.HeadDim/2
	seq := Dim{Param: "sequence_length"}
	b.g.Inputs = append(b.g.Inputs,
		&ValueInfo{Name: InputIDs, ElemType: Int64, Shape: []Dim{{Value: 1}, seq}},
		&ValueInfo{Name: PositionIDs, ElemType: Int64, Shape: []Dim{{Value: 1}, seq}})
	b.g.Outputs = append(b.g.Outputs, &ValueInfo{Name: Logits, ElemType: Float, Shape: []Dim{{Value: 1}, seq, {Value: int64(c.Vocab)}}})
	for li := 0; li < c.Layers; li++ {
		for _, name := range []string{PastKey(li), PastValue(li)} {
			b.g.Inputs = append(b.g.Inputs, &ValueInfo{Name: name, ElemType: Float,
				Shape: []Dim{{Value: 1}, {Value: int64(c.KVHeads)}, {Param: "past_sequence_length"}, {Value: int64(hd)}}})
		}
		for _, name := range []string{PresentKey(li), PresentValue(li)} {
			b.g.Outputs = append(b.g.Outputs, &ValueInfo{Name: name, ElemType: Float,
				Shape: []Dim{{Value: 1}, {Value: int64(c.KVHeads)}, {Param: "total_sequence_length"}, {Value: int64(hd)}}})
		}
	}

	// RoPE tables, gathered once per run by position.
	freq, scale := x.o.RopeFreq, x.o.RopeScale
	if freq == nil {
		freq = make([]float32, half)
		for i := range freq {
			freq[i] = float32(math.Pow(float64(c.RopeBase), -2*float64(i)/float64(c.RopeDim)))
		}
		scale = 1
		if c.RopeScale > 0 {
			scale = 1 / c.RopeScale
		}
	}
	if len(freq) != half {
		return fmt.Errorf("%w: %d RoPE frequencies for head dim %d", ErrUnsupported, len(freq), hd)
	}
	if scale == 0 {
		scale = 1
	}
	cosT, sinT := make([]float32, x.o.Context*half), make([]float32, x.o.Context*half)
	for p := 0; p < x.o.Context; p++ {
		pp := float32(p) * scale
		for i := 0; i < half; i++ {
			s, co := math.Sincos(float64(pp * freq[i]))
			cosT[p*half+i], sinT[p*half+i] = float32(co), float32(s)
		}
	}
	cosI := b.init("rope.cos", Float, []int64{int64(x.o.Context), int64(half)}, Float32Bytes(cosT))
	sinI := b.init("rope.sin", Float, []int64{int64(x.o.Context), int64(half)}, Float32Bytes(sinT))
	x.cosI, x.sinI = cosI, sinI
	ropeShape := b.ints(0, 0, 1, int64(half), 1)
	if c.RopeNeox {
		ropeShape = b.ints(0, 0, 1, 1, int64(half))
	}
	x.cos = b.op("Reshape", []string{b.op("Gather", []string{cosI, PositionIDs}), ropeShape})
	x.sin = b.op("Reshape", []string{b.op("Gather", []string{sinI, PositionIDs}), ropeShape})

	// Causal mask [group*seq, past+seq]: 0 where key t <= past + query s, else -1e9.
	pastLen := b.op("Slice", []string{b.op("Shape", []string{PastKey(0)}), b.ints(2), b.ints(3)})
	seqLen := b.op("Slice", []string{b.op("Shape", []string{InputIDs}), b.ints(1), b.ints(2)})
	total := b.op("Add", []string{pastLen, seqLen})
	ones := b.op("ConstantOfShape", []string{b.op("Concat", []string{seqLen, total}, attrInt("axis", 0))},
		&Attribute{Name: "value", Type: AttrTensor, T: &Tensor{DataType: Float, Dims: []int64{1}, Raw: Float32Bytes([]float32{1})}})
	tri := b.op("Trilu", []string{ones, b.op("Squeeze", []string{pastLen, b.ints(0)})}, attrInt("upper", 0))
	mask := b.op("Mul", []string{b.op("Sub", []string{tri, b.scalar(1)}), b.scalar(1e9)})
	if g := c.Heads / c.KVHeads; g > 1 {
		mask = b.op("Tile", []string{mask, b.ints(int64(g), 1)})
	}
	x.mask = mask
	if x.o.GQA {
		x.seqlensK = b.op("Cast", []string{b.op("Sub", []string{total, b.ints(1)})}, attrInt("to", int64(Int32)))
		x.totalLen = b.op("Cast", []string{b.op("Squeeze", []string{total, b.ints(0)})}, attrInt("to", int64(Int32)))
	}

	// Embedding.
	embed, err := x.floats("token_embd.weight", c.Vocab*c.Dim)
	if err != nil {
		return err
	}
	embI := b.init("token_embd.weight", Float, []int64{int64(c.Vocab), int64(c.Dim)}, Float32Bytes(embed))
	h := b.op("Gather", []string{embI, InputIDs}) // [1, seq, dim]

	for li := 0; li < c.Layers; li++ {
		if h, err = x.layer(li, h); err != nil {
			return err
		}
	}
	normed, err := x.rmsNorm(h, "output_norm.weight")
	if err != nil {
		return err
	}
	outName := "output.weight"
	if _, _, ok := x.w(outName); !ok {
		outName = "token_embd.weight"
	}
	logits, err := x.linear(normed, outName, "output", c.Vocab, c.Dim, -1)
	if err != nil {
		return err
	}
	b.opTo("Identity", "", []string{logits}, []string{Logits})
	return nil
}

func (x *exporter) rmsNorm(h, wname string) (string, error) {
	b, c := x.b, x.c
	wv, err := x.floats(wname, c.Dim)
	if err != nil {
		return "", err
	}
	wI := b.init(wname, Float, []int64{int64(c.Dim)}, Float32Bytes(wv))
	if x.o.Contrib {
		return b.op("SimplifiedLayerNormalization", []string{h, wI}, attrInt("axis", -1), attrFloat("epsilon", c.RMSEps)), nil
	}
	ms := b.op("ReduceMean", []string{b.op("Mul", []string{h, h})}, attrInts("axes", -1), attrInt("keepdims", 1))
	rs := b.op("Sqrt", []string{b.op("Add", []string{ms, b.scalar(c.RMSEps)})})
	return b.op("Mul", []string{b.op("Div", []string{h, rs}), wI}), nil
}

// rope rotates t ([1, seq, nh*hd]) and returns [1, seq, nh, hd].
func (x *exporter) rope(t string, nh int) string {
	b, c := x.b, x.c
	hd, half := c.HeadDim, c.HeadDim/2
	shape, axis := b.ints(0, 0, int64(nh), int64(half), 2), int64(-1)
	if c.RopeNeox {
		shape, axis = b.ints(0, 0, int64(nh), 2, int64(half)), -2
	}
	if x.o.Contrib {
		interleaved := int64(1)
		if c.RopeNeox {
			interleaved = 0
		}
		r := b.contrib("RotaryEmbedding", []string{t, PositionIDs, x.cosI, x.sinI}, attrInt("interleaved", interleaved))
		return b.op("Reshape", []string{r, b.ints(0, 0, int64(nh), int64(hd))})
	}
	r := b.op("Reshape", []string{t, shape})
	x0, x1 := b.fresh("rope_x0"), b.fresh("rope_x1")
	b.opTo("Split", "", []string{r}, []string{x0, x1}, attrInt("axis", axis))
	o0 := b.op("Sub", []string{b.op("Mul", []string{x0, x.cos}), b.op("Mul", []string{x1, x.sin})})
	o1 := b.op("Add", []string{b.op("Mul", []string{x0, x.sin}), b.op("Mul", []string{x1, x.cos})})
	return b.op("Reshape", []string{b.op("Concat", []string{o0, o1}, attrInt("axis", axis)), b.ints(0, 0, int64(nh), int64(hd))})
}

func (x *exporter) layer(li int, h string) (string, error) {
	b, c := x.b, x.c
	hd := c.HeadDim
	qDim, kvDim := c.Heads*hd, c.KVHeads*hd
	p := fmt.Sprintf("blk.%d.", li)
	xn, err := x.rmsNorm(h, p+"attn_norm.weight")
	if err != nil {
		return "", err
	}
	q, err := x.linear(xn, p+"attn_q.weight", "attn_q", qDim, c.Dim, li)
	if err != nil {
		return "", err
	}
	k, err := x.linear(xn, p+"attn_k.weight", "attn_k", kvDim, c.Dim, li)
	if err != nil {
		return "", err
	}
	v, err := x.linear(xn, p+"attn_v.weight", "attn_v", kvDim, c.Dim, li)
	if err != nil {
		return "", err
	}
	for _, s := range []struct {
		t *string
		n string
		d int
	}{{&q, "attn_q.bias", qDim}, {&k, "attn_k.bias", kvDim}, {&v, "attn_v.bias", kvDim}} {
		if _, _, ok := x.w(p + s.n); ok {
			bv, err := x.floats(p+s.n, s.d)
			if err != nil {
				return "", err
			}
			*s.t = b.op("Add", []string{*s.t, b.init(p+s.n, Float, []int64{int64(s.d)}, Float32Bytes(bv))})
		}
	}
	var att string
	if x.o.GQA {
		att = b.fresh("gqa")
		interleaved := int64(1)
		if c.RopeNeox {
			interleaved = 0
		}
		b.opTo("GroupQueryAttention", "com.microsoft",
			[]string{q, k, v, PastKey(li), PastValue(li), x.seqlensK, x.totalLen, x.cosI, x.sinI},
			[]string{att, PresentKey(li), PresentValue(li)},
			attrInt("num_heads", int64(c.Heads)), attrInt("kv_num_heads", int64(c.KVHeads)),
			attrInt("do_rotary", 1), attrInt("rotary_interleaved", interleaved),
			attrFloat("scale", float32(1/math.Sqrt(float64(hd)))))
	} else {
		att = x.attention(li, q, k, v)
	}
	o, err := x.linear(att, p+"attn_output.weight", "attn_output", c.Dim, qDim, li)
	if err != nil {
		return "", err
	}
	h = b.op("Add", []string{h, o})

	xn, err = x.rmsNorm(h, p+"ffn_norm.weight")
	if err != nil {
		return "", err
	}
	gate, err := x.linear(xn, p+"ffn_gate.weight", "ffn_gate", c.FFN, c.Dim, li)
	if err != nil {
		return "", err
	}
	up, err := x.linear(xn, p+"ffn_up.weight", "ffn_up", c.FFN, c.Dim, li)
	if err != nil {
		return "", err
	}
	act := b.op("Mul", []string{b.op("Mul", []string{gate, b.op("Sigmoid", []string{gate})}), up})
	down, err := x.linear(act, p+"ffn_down.weight", "ffn_down", c.Dim, c.FFN, li)
	if err != nil {
		return "", err
	}
	return b.op("Add", []string{h, down}), nil
}

// attention is grouped-query causal attention over the past and new positions with
// standard ops; q, k, v are [1, seq, heads*hd]; it returns [1, seq, heads*hd].
func (x *exporter) attention(li int, q, k, v string) string {
	b, c := x.b, x.c
	hd := c.HeadDim
	g := c.Heads / c.KVHeads
	perm := attrInts("perm", 0, 2, 1, 3)
	qh := b.op("Transpose", []string{x.rope(q, c.Heads)}, perm) // [1, H, seq, hd]
	kh := b.op("Transpose", []string{x.rope(k, c.KVHeads)}, perm)
	vh := b.op("Transpose", []string{b.op("Reshape", []string{v, b.ints(0, 0, int64(c.KVHeads), int64(hd))})}, perm)
	b.opTo("Concat", "", []string{PastKey(li), kh}, []string{PresentKey(li)}, attrInt("axis", 2))
	b.opTo("Concat", "", []string{PastValue(li), vh}, []string{PresentValue(li)}, attrInt("axis", 2))
	// Grouped-query attention without repeating K/V: the g query heads of a KV head are
	// stacked along the sequence axis, [1, KVH, g*seq, hd].
	qg := b.op("Reshape", []string{qh, b.ints(1, int64(c.KVHeads), -1, int64(hd))})
	kt := b.op("Transpose", []string{PresentKey(li)}, attrInts("perm", 0, 1, 3, 2))
	sc := b.op("Mul", []string{b.op("MatMul", []string{qg, kt}), b.scalar(float32(1 / math.Sqrt(float64(hd))))})
	pr := b.op("Softmax", []string{b.op("Add", []string{sc, x.mask})}, attrInt("axis", -1))
	att := b.op("MatMul", []string{pr, PresentValue(li)})                              // [1, KVH, g*seq, hd]
	att = b.op("Reshape", []string{att, b.ints(1, int64(c.KVHeads*g), -1, int64(hd))}) // [1, H, seq, hd]
	return b.op("Reshape", []string{b.op("Transpose", []string{att}, perm), b.ints(0, 0, -1)})
}

// linear writes in @ Wᵀ for the [n, k] weight wname (plus the LoRA inputs of projection
// proj of layer li when enabled; li < 0: none).
func (x *exporter) linear(in, wname, proj string, n, k, li int) (string, error) {
	b := x.b
	t, data, err := x.weight(wname)
	if err != nil {
		return "", err
	}
	rb, err := int4.RowBytes(t, k)
	if err != nil || len(data) != n*rb {
		return "", fmt.Errorf("%w: tensor %q: %v with %d bytes is not a %dx%d matrix", ErrUnsupported, wname, t, len(data), n, k)
	}
	rep := LinearReport{Name: wname, Source: t}
	var out string
	useBnb := int4.IsBnb4(t) && x.o.Int4 != Int4NBits
	switch {
	case !t.Quantized() || !is4bit(t):
		// Float weights, and 8-/6-bit ones (Q8_0, Q6_K) that 4 bits would degrade: an
		// exact float MatMul.
		wf := make([]float32, n*k)
		if err := int4.DequantizeRow(t, data, wf); err != nil {
			return "", err
		}
		wt := make([]float32, n*k) // [k, n]
		for r := 0; r < n; r++ {
			for cc := 0; cc < k; cc++ {
				wt[cc*n+r] = wf[r*k+cc]
			}
		}
		wI := b.init(wname, Float, []int64{int64(k), int64(n)}, Float32Bytes(wt))
		out = b.op("MatMul", []string{in, wI})
		rep.Op, rep.Exact = "MatMul", true
	case useBnb:
		q, err := Bnb4FromRows(t, data, n, k)
		if err != nil {
			return "", fmt.Errorf("onnx: tensor %q: %w", wname, err)
		}
		bI := b.init(wname+".bnb4", Uint8, []int64{int64(len(q.B))}, q.B)
		aI := b.init(wname+".absmax", Float, []int64{int64(len(q.Absmax))}, Float32Bytes(q.Absmax))
		out = b.contrib("MatMulBnb4", []string{in, bI, aI}, attrInt("K", int64(k)), attrInt("N", int64(n)),
			attrInt("block_size", int64(q.BlockSize)), attrInt("quant_type", int64(q.QuantType)))
		rep.Op, rep.Exact, rep.BlockSize = "MatMulBnb4", true, q.BlockSize
	default:
		if x.o.Int4 == Int4Bnb4 {
			return "", fmt.Errorf("%w: tensor %q is %v: MatMulBnb4 takes NF4/FP4 only (use --int4 auto or nbits)", ErrUnsupported, wname, t)
		}
		var q *NBits
		if t == int4.Q4_0 && x.o.BlockSize == 32 && !x.o.ZeroPoints {
			if q, err = NBitsFromQ4_0(data, n, k); err != nil {
				return "", fmt.Errorf("onnx: tensor %q: %w", wname, err)
			}
			rep.Exact = true
		} else {
			src := make([]float32, n*k)
			if err := int4.DequantizeRow(t, data, src); err != nil {
				return "", err
			}
			if q, err = QuantizeNBits(src, n, k, x.o.BlockSize, x.o.ZeroPoints); err != nil {
				return "", fmt.Errorf("onnx: tensor %q: %w", wname, err)
			}
			got := make([]float32, n*k)
			if err := q.Dequantize(got); err != nil {
				return "", err
			}
			rep.MaxAbsErr, rep.RMSErr, rep.RelErr = compare(src, got)
		}
		kb := int64(q.KBlocks())
		bI := b.init(wname+".nbits", Uint8, []int64{int64(n), kb, int64(q.BlockSize / 2)}, q.B)
		sI := b.init(wname+".scales", Float, []int64{int64(n) * kb}, Float32Bytes(q.Scales))
		ins := []string{in, bI, sI}
		if q.ZeroPoints != nil {
			ins = append(ins, b.init(wname+".zero_points", Uint8, []int64{int64(len(q.ZeroPoints))}, q.ZeroPoints))
		}
		attrs := []*Attribute{attrInt("K", int64(k)), attrInt("N", int64(n)), attrInt("bits", 4), attrInt("block_size", int64(q.BlockSize))}
		if x.o.AccuracyLevel != 0 {
			attrs = append(attrs, attrInt("accuracy_level", int64(x.o.AccuracyLevel)))
		}
		out = b.contrib("MatMulNBits", ins, attrs...)
		rep.Op, rep.BlockSize = "MatMulNBits", q.BlockSize
	}
	x.rep.Linears = append(x.rep.Linears, rep)
	if x.o.LoRA && li >= 0 {
		an, bn := LoraA(li, proj), LoraB(li, proj)
		rank := Dim{Param: fmt.Sprintf("blk.%d.%s.rank", li, proj)}
		b.g.Inputs = append(b.g.Inputs,
			&ValueInfo{Name: an, ElemType: Float, Shape: []Dim{{Value: int64(k)}, rank}},
			&ValueInfo{Name: bn, ElemType: Float, Shape: []Dim{rank, {Value: int64(n)}}})
		out = b.op("Add", []string{out, b.op("MatMul", []string{b.op("MatMul", []string{in, an}), bn})})
	}
	return out, nil
}

// is4bit reports whether t is a 4-bit weight format (the ones MatMulNBits/MatMulBnb4
// take, exactly or requantized).
func is4bit(t int4.Type) bool {
	switch t {
	case int4.Q4_0, int4.Q4_1, int4.Q4_K, int4.IQ4_NL, int4.NF4, int4.FP4, int4.NF4_64, int4.FP4_64:
		return true
	}
	return false
}

func compare(want, got []float32) (maxAbs, rms, rel float64) {
	var ss, maxRef float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		maxAbs = math.Max(maxAbs, d)
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
		ss += d * d
	}
	if len(want) > 0 {
		rms = math.Sqrt(ss / float64(len(want)))
	}
	if maxRef > 0 {
		rel = maxAbs / maxRef
	}
	return maxAbs, rms, rel
}
