// Package oracle is an independent reference for edgerun's forward pass: the LLaMA
// architecture (GQA, RoPE in both pairings, SwiGLU, RMSNorm, tied or untied output)
// with LoRA and DoRA, written with gomlx graph ops and run on gomlx's pure-Go simplego
// backend. It shares no numerical code with edgerun: weights come in as plain float32
// (or, for bitsandbytes NF4, as the raw packed bytes dequantized inside the graph).
// The trainer in ../train builds its models from the same graph.
package oracle

import (
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // the graph DSL reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Config is the architecture of a LLaMA-family model.
type Config struct {
	Vocab, Dim, FFN, Layers, Heads, KVHeads, HeadDim int
	Eps, Theta                                       float32
	// Neox selects rotate-half RoPE pairing (Hugging Face); false is adjacent pairs
	// (GGUF llama, llama2.c).
	Neox bool
	// Tied uses token_embd.weight as the output projection.
	Tied bool
}

// Backend returns a simplego backend that executes ops one after another: gomlx
// v0.26's parallel executor can deadlock on a busy 2-core machine.
func Backend() (backends.Backend, error) {
	return simplego.New("ops_sequential")
}

// Weights returns the graph node of the named tensor (GGUF names, PyTorch [out, in]
// layout for projections).
type Weights func(name string) *Node

// Delta adapts one projection: given the projection's name, its input x [N, in], its
// weight w [out, in] and its output y = x·wᵀ [N, out], it returns the adapted output.
// nil means no adapter.
type Delta func(name string, x, w, y *Node) *Node

// LoRA returns the adapted output of a LoRA module: y + s·(x·Aᵀ)·Bᵀ, A [r, in], B [out, r].
func LoRA(x, y, a, b *Node, s float32) *Node {
	return Add(y, MulScalar(MatMulNT(MatMulNT(x, a), b), s))
}

// DoRA returns the adapted output of a PEFT DoRA module: m/‖w + s·B·A‖ · (x·wᵀ + s·x·Aᵀ·Bᵀ),
// the norm taken per output row and m the magnitude vector [out].
func DoRA(x, w, y, a, b, m *Node, s float32) *Node {
	merged := Add(w, MulScalar(MatMulNN(b, a), s))
	norm := Sqrt(ReduceSum(Square(merged), 1))
	scale := Div(m, norm)
	return Mul(Add(y, MulScalar(MatMulNT(MatMulNT(x, a), b), s)), InsertAxes(scale, 0))
}

// Forward returns the logits [B·T, Vocab] of tokens [B, T] (int32), positions 0..T-1.
func Forward(cfg Config, w Weights, delta Delta, tokens *Node) *Node {
	g := tokens.Graph()
	bsz, T := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	n := bsz * T
	hd, H, KV := cfg.HeadDim, cfg.Heads, cfg.KVHeads
	grp := H / KV
	cos, sin, rot := ropeTables(g, cfg, T)
	mask := causalMask(g, T)
	proj := func(name string, x *Node) *Node {
		wt := w(name)
		y := MatMulNT(x, wt)
		if delta != nil {
			y = delta(name, x, wt, y)
		}
		return y
	}
	rope := func(x *Node, heads int) *Node { // x [N, heads*hd]
		x4 := Reshape(x, bsz, T, heads, hd)
		r := Reshape(MatMulNN(Reshape(x, n*heads, hd), rot), bsz, T, heads, hd)
		return Add(Mul(x4, cos), Mul(r, sin)) // [B, T, heads, hd]
	}
	x := Gather(w("token_embd.weight"), Reshape(tokens, n, 1))
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		h := RMSNorm(x, w(p+"attn_norm.weight"), cfg.Eps)
		q := rope(proj(p+"attn_q.weight", h), H)  // [B, T, H, hd]
		k := rope(proj(p+"attn_k.weight", h), KV) // [B, T, KV, hd]
		v := Reshape(proj(p+"attn_v.weight", h), bsz, T, KV, hd)
		// Query head hh uses kv head hh/grp: group the queries of one kv head together.
		q = Reshape(TransposeAllAxes(Reshape(q, bsz, T, KV, grp, hd), 0, 2, 3, 1, 4), bsz, KV, grp*T, hd)
		k = TransposeAllAxes(k, 0, 2, 1, 3) // [B, KV, T, hd]
		v = TransposeAllAxes(v, 0, 2, 1, 3)
		sc := MulScalar(MatMulNT(q, k), 1/math.Sqrt(float64(hd))) // [B, KV, grp*T, T]
		sc = Add(Reshape(sc, bsz, KV, grp, T, T), mask)
		pr := Reshape(Softmax(sc, -1), bsz, KV, grp*T, T)
		o := Reshape(MatMulNN(pr, v), bsz, KV, grp, T, hd)
		o = Reshape(TransposeAllAxes(o, 0, 3, 1, 2, 4), n, H*hd)
		x = Add(x, proj(p+"attn_output.weight", o))
		h = RMSNorm(x, w(p+"ffn_norm.weight"), cfg.Eps)
		gate := proj(p+"ffn_gate.weight", h)
		up := proj(p+"ffn_up.weight", h)
		x = Add(x, proj(p+"ffn_down.weight", Mul(Mul(gate, Logistic(gate)), up)))
	}
	x = RMSNorm(x, w("output_norm.weight"), cfg.Eps)
	out := "output.weight"
	if cfg.Tied {
		out = "token_embd.weight"
	}
	return MatMulNT(x, w(out))
}

// RMSNorm normalizes the rows of x [N, D] to unit root-mean-square and scales by w [D].
func RMSNorm(x, w *Node, eps float32) *Node {
	ms := ReduceAndKeep(Square(x), ReduceMean, -1)
	return Mul(Mul(x, Rsqrt(AddScalar(ms, eps))), InsertAxes(w, 0))
}

// ropeTables returns cos and sin [1, T, 1, hd] and the rotation matrix R [hd, hd] with
// rope(x) = x·cos + (x·R)·sin for one head.
func ropeTables(g *Graph, cfg Config, T int) (cos, sin, rot *Node) {
	hd := cfg.HeadDim
	half := hd / 2
	c := make([]float32, T*hd)
	s := make([]float32, T*hd)
	r := make([]float32, hd*hd)
	for j := 0; j < hd; j++ {
		i := j / 2 // frequency index of dimension j
		if cfg.Neox {
			i = j % half
		}
		freq := math.Pow(float64(cfg.Theta), -2*float64(i)/float64(hd))
		for t := 0; t < T; t++ {
			a := float64(t) * freq
			c[t*hd+j], s[t*hd+j] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	// (x·R)[j] = x[src]·sign: the partner of j in its pair.
	for j := 0; j < hd; j++ {
		var src int
		var sign float32
		if cfg.Neox {
			if j < half {
				src, sign = j+half, -1
			} else {
				src, sign = j-half, 1
			}
		} else {
			if j%2 == 0 {
				src, sign = j+1, -1
			} else {
				src, sign = j-1, 1
			}
		}
		r[src*hd+j] = sign
	}
	cos = Reshape(Const(g, c), 1, T, 1, hd)
	sin = Reshape(Const(g, s), 1, T, 1, hd)
	rot = Reshape(Const(g, r), hd, hd)
	return
}

// causalMask is [1, 1, 1, T, T]: 0 on and below the diagonal, -1e30 above.
func causalMask(g *Graph, T int) *Node {
	m := make([]float32, T*T)
	for i := 0; i < T; i++ {
		for j := i + 1; j < T; j++ {
			m[i*T+j] = -1e30
		}
	}
	return Reshape(Const(g, m), 1, 1, 1, T, T)
}

// DequantNF4 dequantizes a bitsandbytes 4-bit tensor inside the graph: packed holds two
// codes per byte (high nibble first), absmaxQ one uint8 code per block into nestedMap
// (256 entries), scaled by nestedAbsmax per nestedBlock blocks plus offset (double
// quantization); qmap is the 16-entry NF4 (or FP4) table. Returns [out, in] float32.
func DequantNF4(packed, absmaxQ, nestedAbsmax, qmap, nestedMap *Node, offset float32, blocksize, nestedBlock, out, in int) *Node {
	g := packed.Graph()
	n := out * in
	nb := n / blocksize
	p := ConvertDType(packed, dtypes.Int32)
	hi := DivScalar(p, 16)
	lo := Sub(p, MulScalar(hi, 16))
	codes := Reshape(Concatenate([]*Node{InsertAxes(hi, -1), InsertAxes(lo, -1)}, 1), n, 1)
	vals := Gather(qmap, codes)                                                  // [n]
	am := Gather(nestedMap, Reshape(ConvertDType(absmaxQ, dtypes.Int32), nb, 1)) // [nb]
	blk := make([]int32, nb)
	for i := range blk {
		blk[i] = int32(i / nestedBlock)
	}
	am = AddScalar(Mul(am, Gather(nestedAbsmax, Reshape(Const(g, blk), nb, 1))), offset)
	wq := Mul(Reshape(vals, nb, blocksize), InsertAxes(am, -1))
	return Reshape(wq, out, in)
}

// DequantBnb4Plain is DequantNF4 without double quantization: absmax [nb] float32.
func DequantBnb4Plain(packed, absmax, qmap *Node, blocksize, out, in int) *Node {
	n := out * in
	nb := n / blocksize
	p := ConvertDType(packed, dtypes.Int32)
	hi := DivScalar(p, 16)
	lo := Sub(p, MulScalar(hi, 16))
	codes := Reshape(Concatenate([]*Node{InsertAxes(hi, -1), InsertAxes(lo, -1)}, 1), n, 1)
	vals := Gather(qmap, codes)
	return Reshape(Mul(Reshape(vals, nb, blocksize), InsertAxes(absmax, -1)), out, in)
}

// --- matrix products with lean gradients --------------------------------------------

// gomlx v0.26's generic DotGeneral gradient broadcasts both operands to [.., M, K, N]
// before reducing, which takes gigabytes at training shapes. The products below record
// their layout, and InstallGradients replaces the DotGeneral gradient by two plain
// products for them (others keep gomlx's rule). Rsqrt has no gradient in v0.26: it
// gets d/dx x^-1/2 = -1/2 · x^-1/2 / x.

type mmForm int

const (
	formNN mmForm = iota // [.., M, K] x [.., K, N]
	formNT               // [.., M, K] x [.., N, K]
	formTN               // [.., K, M] x [.., K, N]
)

var (
	mmMu    sync.Mutex
	mmForms = map[*Node]mmForm{}
)

func batchAxes(r int) []int {
	b := make([]int, r-2)
	for i := range b {
		b[i] = i
	}
	return b
}

func mm(form mmForm, a, b *Node) *Node {
	r := a.Rank()
	if b.Rank() != r || r < 2 {
		panic(fmt.Sprintf("oracle: matmul ranks %s x %s", a.Shape(), b.Shape()))
	}
	ba := batchAxes(r)
	var ca, cb int
	switch form {
	case formNN:
		ca, cb = r-1, r-2
	case formNT:
		ca, cb = r-1, r-1
	case formTN:
		ca, cb = r-2, r-2
	}
	out := DotGeneral(a, []int{ca}, ba, b, []int{cb}, ba)
	mmMu.Lock()
	mmForms[out] = form
	mmMu.Unlock()
	return out
}

// MatMulNN is a·b over the last two axes (leading axes are batch axes).
func MatMulNN(a, b *Node) *Node { return mm(formNN, a, b) }

// MatMulNT is a·bᵀ over the last two axes.
func MatMulNT(a, b *Node) *Node { return mm(formNT, a, b) }

// MatMulTN is aᵀ·b over the last two axes.
func MatMulTN(a, b *Node) *Node { return mm(formTN, a, b) }

var installOnce sync.Once

// InstallGradients registers the lean matmul gradient and Rsqrt's gradient with gomlx
// (process-wide; call before building graphs that take gradients).
func InstallGradients() {
	installOnce.Do(func() {
		orig := VJPRegistration[NodeTypeDotGeneral]
		VJPRegistration[NodeTypeDotGeneral] = func(node *Node, vjps []*Node, outShape shapes.Shape) []*Node {
			mmMu.Lock()
			form, ok := mmForms[node]
			mmMu.Unlock()
			if !ok {
				return orig(node, vjps, outShape)
			}
			v := vjps[0]
			a, b := node.Inputs()[0], node.Inputs()[1]
			switch form {
			case formNN:
				return []*Node{MatMulNT(v, b), MatMulTN(a, v)}
			case formNT:
				return []*Node{MatMulNN(v, b), MatMulTN(v, a)}
			default: // formTN
				return []*Node{MatMulNT(b, v), MatMulNN(a, v)}
			}
		}
		VJPRegistration[NodeTypeRsqrt] = func(node *Node, vjps []*Node, _ shapes.Shape) []*Node {
			x := node.Inputs()[0]
			return []*Node{Mul(vjps[0], MulScalar(Div(node, x), -0.5))}
		}
	})
}

// ForgetGraph drops the layout records of g's products once g is no longer used.
func ForgetGraph(g *Graph) {
	mmMu.Lock()
	for n := range mmForms {
		if n.Graph() == g {
			delete(mmForms, n)
		}
	}
	mmMu.Unlock()
}
