package runtime

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/kernels"
)

// ErrKVType is returned (wrapped with the reason) when a KV-cache precision chosen
// with WithKVType is not supported, or not for the model's head size.
var ErrKVType = errors.New("runtime: unsupported KV-cache type")

// KVTypes are the precisions the KV cache can store keys and values in: int4.F32 (the
// default), int4.F16 (half the memory) and int4.Q8_0 (a little over a quarter: blocks of
// 32 int8 with an fp16 scale, so the head size must be a multiple of 32).
var KVTypes = []int4.Type{int4.F32, int4.F16, int4.Q8_0}

// checkKVType reports whether keys and values of the model named name can be stored as
// t for heads of headDim elements.
func checkKVType(t int4.Type, headDim int, name string) error {
	switch t {
	case int4.F32, int4.F16:
		return nil
	case int4.Q8_0:
		if headDim%32 != 0 {
			return fmt.Errorf("%w for %s: q8_0 stores blocks of 32 per head, but the model's head_dim is %d (not a multiple of 32); use f16 or f32", ErrKVType, name, headDim)
		}
		return nil
	}
	return fmt.Errorf("%w for %s: %s (choose f32, f16 or q8_0)", ErrKVType, name, strings.ToLower(t.String()))
}

// KVCache holds the keys and values of every past position, per layer, in the precision
// chosen with WithKVType (float32 by default; f16 or q8_0 to save memory). It grows on
// demand up to its context size, so a short conversation does not pay for the whole
// context up front.
type KVCache struct {
	ctx      int
	kvDim    int
	typ      int4.Type
	rowBytes int         // bytes of one position's kvDim keys (or values) in typ
	k, v     [][]float32 // int4.F32: per layer, positions × kvDim
	kb, vb   [][]byte    // int4.F16, int4.Q8_0: per layer, positions × rowBytes
}

// NewKVCache returns an empty float32 cache for up to ctx positions.
func NewKVCache(m *Model, ctx int) *KVCache {
	c, _ := NewKVCacheType(m, ctx, int4.F32)
	return c
}

// NewKVCacheType returns an empty cache for up to ctx positions that stores keys and
// values as t (one of KVTypes). It fails, wrapping ErrKVType, when t is not one of them
// or, for int4.Q8_0, when the model's head size is not a multiple of 32.
func NewKVCacheType(m *Model, ctx int, t int4.Type) (*KVCache, error) {
	if err := checkKVType(t, m.Config.HeadDim, m.Ckpt.Path); err != nil {
		return nil, err
	}
	c := &KVCache{ctx: ctx, kvDim: m.KVDim(), typ: t}
	c.rowBytes, _ = int4.RowBytes(t, c.kvDim)
	if t == int4.F32 {
		c.k, c.v = make([][]float32, m.Config.Layers), make([][]float32, m.Config.Layers)
	} else {
		c.kb, c.vb = make([][]byte, m.Config.Layers), make([][]byte, m.Config.Layers)
	}
	return c, nil
}

// newSessionKV returns a session's cache of type t, checked by NewEngine.
func newSessionKV(m *Model, ctx int, t int4.Type) *KVCache {
	c, err := NewKVCacheType(m, ctx, t)
	if err != nil {
		panic(err) // NewEngine refused t
	}
	return c
}

// Context returns the number of positions the cache can hold.
func (c *KVCache) Context() int { return c.ctx }

// Type returns the precision the cache stores keys and values in.
func (c *KVCache) Type() int4.Type { return c.typ }

// Bytes returns the memory the cache currently holds.
func (c *KVCache) Bytes() int64 {
	var n int64
	for i := range c.k {
		n += int64(cap(c.k[i])+cap(c.v[i])) * 4
	}
	for i := range c.kb {
		n += int64(cap(c.kb[i]) + cap(c.vb[i]))
	}
	return n
}

// grownSize is the new length (in units of one position's row, unit elements) of a
// layer's buffer that holds have elements and must hold need.
func (c *KVCache) grownSize(have, need, unit int) int {
	size := max(need, min(2*have, c.ctx*unit), 64*unit)
	return min(size, c.ctx*unit)
}

// reserve makes room for positions [0, n).
func (c *KVCache) reserve(n int) {
	if c.typ == int4.F32 {
		growKV(c, c.k, c.v, n*c.kvDim, c.kvDim)
		return
	}
	growKV(c, c.kb, c.vb, n*c.rowBytes, c.rowBytes)
}

// growKV grows every layer's key and value buffers in k and v (unit elements per
// position) to hold need elements, keeping their contents.
func growKV[T float32 | byte](c *KVCache, k, v [][]T, need, unit int) {
	for i := range k {
		if len(k[i]) >= need {
			continue
		}
		size := c.grownSize(len(k[i]), need, unit)
		nk, nv := make([]T, size), make([]T, size)
		copy(nk, k[i])
		copy(nv, v[i])
		k[i], v[i] = nk, nv
	}
}

// store writes the keys k and values v (kvDim each) of position pos in layer li.
func (c *KVCache) store(li, pos int, k, v []float32) {
	if c.typ == int4.F32 {
		copy(c.k[li][pos*c.kvDim:], k)
		copy(c.v[li][pos*c.kvDim:], v)
		return
	}
	off := pos * c.rowBytes
	_ = int4.QuantizeRow(c.typ, k, c.kb[li][off:off+c.rowBytes])
	_ = int4.QuantizeRow(c.typ, v, c.vb[li][off:off+c.rowBytes])
}

// attention computes, for each of the n new tokens and each query head, softmax-weighted
// sums over the cached values of all positions up to and including the token's own.
// The keys and values are read in the cache's type: an F16 or Q8_0 head row is decoded
// (int4.DequantizeRow, exact) into a float32 scratch row, then the float32 kernels run.
func (m *Model) attention(p *kernels.Pool, kv *KVCache, a *attnLoop, li int, q, out []float32, n, pos int) {
	c := m.Config
	if a.run == nil {
		a.run = a.loop
	}
	*a = attnLoop{kv: kv, li: li, q: q, out: out, pos: pos, n: n, heads: c.Heads, group: c.Heads / c.KVHeads,
		hd: c.HeadDim, scale: float32(1 / math.Sqrt(float64(c.HeadDim))), run: a.run}
	p.RunScratch(n*c.Heads, 1, pos+n+c.HeadDim, a.run)
	a.kv, a.q, a.out = nil, nil, nil // drop references to the caller's buffers
}

// attnLoop is the pool loop of attention over (token, head) pairs. It lives in the
// session's scratch with its method value bound once (run), so dispatching it per
// layer and token allocates nothing.
type attnLoop struct {
	kv               *KVCache
	li, pos, n       int
	q, out           []float32
	heads, group, hd int
	scale            float32
	run              func(lo, hi int, buf []float32)
}

func (a *attnLoop) loop(lo, hi int, buf []float32) {
	hd := a.hd
	scores, row := buf[:a.pos+a.n], buf[a.pos+a.n:] // row: decoding scratch for F16/Q8_0
	for u := lo; u < hi; u++ {
		i, h := u/a.heads, u%a.heads
		qh := a.q[(i*a.heads+h)*hd:][:hd]
		o := a.out[(i*a.heads+h)*hd:][:hd]
		sc := scores[:a.pos+i+1]
		a.kv.scores(a.li, (h/a.group)*hd, qh, sc, a.scale, row)
		kernels.Softmax(sc)
		a.kv.mix(a.li, (h/a.group)*hd, sc, o, row)
	}
}

// scores writes sc[t] = scale·(q · key t) for the head whose keys start at element off
// of each position's row in layer li, for t < len(sc); row (len(q)) is scratch for
// decoding F16 and Q8_0 keys.
func (c *KVCache) scores(li, off int, q, sc []float32, scale float32, row []float32) {
	hd := len(q)
	if c.typ == int4.F32 {
		// One rows-kernel call over the positions (each dot as DotF32 computes it).
		kernels.DotRowsF32(c.k[li][off:], c.kvDim, q, sc)
		for t := range sc {
			sc[t] *= scale
		}
		return
	}
	keys := c.kb[li]
	boff, _ := int4.RowBytes(c.typ, off)
	hb, _ := int4.RowBytes(c.typ, hd)
	for t := range sc {
		_ = int4.DequantizeRow(c.typ, keys[t*c.rowBytes+boff:][:hb], row)
		sc[t] = kernels.DotF32(q, row) * scale
	}
}

// mix writes o = Σ_t w[t]·(value t) for the head whose values start at element off of
// each position's row in layer li; row (len(o)) is scratch for decoding F16 and Q8_0
// values.
func (c *KVCache) mix(li, off int, w, o, row []float32) {
	hd := len(o)
	if c.typ == int4.F32 {
		kernels.MixF32(o, w, c.v[li][off:], c.kvDim) // = clear(o) and one Axpy per position
		return
	}
	clear(o)
	vals := c.vb[li]
	boff, _ := int4.RowBytes(c.typ, off)
	hb, _ := int4.RowBytes(c.typ, hd)
	for t, a := range w {
		_ = int4.DequantizeRow(c.typ, vals[t*c.rowBytes+boff:][:hb], row)
		kernels.Axpy(o, a, row)
	}
}
