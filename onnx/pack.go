package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// ErrPack is the kind of every error about a weight that cannot be packed as asked.
var ErrPack = errors.New("onnx: cannot pack weight")

// NBits is a [N, K] weight in ONNX Runtime's com.microsoft MatMulNBits layout with
// bits=4: B is uint8 [N, KBlocks, BlockSize/2] where element k of a block is in byte
// k/2, even k in the LOW nibble; Scales is float32 [N*KBlocks]; ZeroPoints (optional)
// is uint8 [N, ceil(KBlocks/2)], block b's zero point in byte b/2, even b in the low
// nibble. Without zero points the zero point is 8. Element (n, k) dequantizes to
// (q − zp)·scale.
type NBits struct {
	N, K, BlockSize int
	B               []byte
	Scales          []float32
	ZeroPoints      []byte // nil: symmetric (zero point 8)
}

// KBlocks returns ceil(K/BlockSize), the blocks per row.
func (q *NBits) KBlocks() int { return (q.K + q.BlockSize - 1) / q.BlockSize }

// zp returns the zero point of block b of row n.
func (q *NBits) zp(n, b int) float32 {
	if q.ZeroPoints == nil {
		return 8
	}
	v := q.ZeroPoints[n*((q.KBlocks()+1)/2)+b/2]
	if b&1 == 1 {
		v >>= 4
	}
	return float32(v & 15)
}

// Dequantize writes the N×K float32 weight (row-major [N, K]) into dst, computing
// (q − zp)·scale in float32 as ONNX Runtime does.
func (q *NBits) Dequantize(dst []float32) error {
	if len(dst) != q.N*q.K {
		return fmt.Errorf("%w: dst has %d elements, want %d", ErrPack, len(dst), q.N*q.K)
	}
	kb, half := q.KBlocks(), q.BlockSize/2
	for n := 0; n < q.N; n++ {
		for k := 0; k < q.K; k++ {
			b, j := k/q.BlockSize, k%q.BlockSize
			c := q.B[(n*kb+b)*half+j/2]
			if j&1 == 1 {
				c >>= 4
			}
			dst[n*q.K+k] = (float32(c&15) - q.zp(n, b)) * q.Scales[n*kb+b]
		}
	}
	return nil
}

func checkBlockSize(bs int) error {
	if bs < 16 || bs&(bs-1) != 0 {
		return fmt.Errorf("%w: block size %d (need a power of two >= 16)", ErrPack, bs)
	}
	return nil
}

// NBitsFromQ4_0 re-expresses a ggml Q4_0 matrix (rows of 18-byte blocks: f16 scale d,
// 16 bytes with elements 0..15 in the low and 16..31 in the high nibbles, value
// d·(q−8)) as MatMulNBits block 32 without zero points. The re-expression is exact:
// same codes, same scales (f16 widened to float32).
func NBitsFromQ4_0(data []byte, n, k int) (*NBits, error) {
	if n <= 0 || k <= 0 || k%32 != 0 || len(data) != n*k/32*18 {
		return nil, fmt.Errorf("%w: Q4_0 %dx%d needs K%%32 == 0 and %d bytes, have %d", ErrPack, n, k, n*k/32*18, len(data))
	}
	nb := n * k / 32
	q := &NBits{N: n, K: k, BlockSize: 32, B: make([]byte, nb*16), Scales: make([]float32, nb)}
	var d [1]float32
	for i := 0; i < nb; i++ {
		blk := data[i*18 : (i+1)*18]
		if err := int4.DequantizeRow(int4.F16, blk[:2], d[:]); err != nil {
			return nil, err
		}
		q.Scales[i] = d[0]
		out := q.B[i*16 : (i+1)*16]
		for j := 0; j < 16; j++ {
			e0, e1 := 2*j, 2*j+1 // elements 2j and 2j+1 of the block
			out[j] = q4_0Code(blk[2:], e0) | q4_0Code(blk[2:], e1)<<4
		}
	}
	return q, nil
}

// q4_0Code returns the 4-bit code of element e (0..31) of a Q4_0 block's 16 code bytes.
func q4_0Code(qs []byte, e int) byte {
	if e < 16 {
		return qs[e] & 15
	}
	return qs[e-16] >> 4
}

// QuantizeNBits quantizes a row-major [n, k] float32 weight to MatMulNBits 4-bit with
// ONNX Runtime's reference rules (MLAS): symmetric, scale = v*/−8 with v* the block
// value of largest magnitude, q = clamp(round(v/scale + 8), 0, 15); or with zero
// points, min' = min(min, 0), max' = max(max, 0), scale = (max'−min')/15,
// zp = clamp(round(−min'/scale), 0, 15), q = clamp(round(v/scale + zp), 0, 15).
// A short last block is padded with zeros.
func QuantizeNBits(w []float32, n, k, blockSize int, zeroPoints bool) (*NBits, error) {
	if err := checkBlockSize(blockSize); err != nil {
		return nil, err
	}
	if n <= 0 || k <= 0 || len(w) != n*k {
		return nil, fmt.Errorf("%w: %d values for a %dx%d weight", ErrPack, len(w), n, k)
	}
	q := &NBits{N: n, K: k, BlockSize: blockSize}
	kb := q.KBlocks()
	q.B = make([]byte, n*kb*blockSize/2)
	q.Scales = make([]float32, n*kb)
	if zeroPoints {
		q.ZeroPoints = make([]byte, n*((kb+1)/2))
	}
	codes := make([]byte, blockSize)
	for r := 0; r < n; r++ {
		for b := 0; b < kb; b++ {
			lo, hi := b*blockSize, min((b+1)*blockSize, k)
			x := w[r*k+lo : r*k+hi]
			var scale float32
			zp := float32(8)
			if zeroPoints {
				mn, mx := float32(0), float32(0)
				for _, v := range x {
					mn, mx = min(mn, v), max(mx, v)
				}
				scale = (mx - mn) / 15
				if scale != 0 {
					zp = float32(clamp15(math.Round(float64(-mn / scale))))
				} else {
					zp = 0
				}
				zi := r*((kb+1)/2) + b/2
				if b&1 == 0 {
					q.ZeroPoints[zi] |= byte(zp)
				} else {
					q.ZeroPoints[zi] |= byte(zp) << 4
				}
			} else {
				var vmax float32
				for _, v := range x {
					if abs32(v) > abs32(vmax) {
						vmax = v
					}
				}
				scale = vmax / -8
			}
			q.Scales[r*kb+b] = scale
			inv := float32(0)
			if scale != 0 {
				inv = 1 / scale
			}
			clear(codes)
			for j := range codes {
				v := float32(0)
				if j < len(x) {
					v = x[j]
				}
				codes[j] = clamp15(math.Round(float64(v*inv)) + float64(zp))
			}
			out := q.B[(r*kb+b)*blockSize/2:]
			for j := 0; j < blockSize/2; j++ {
				out[j] = codes[2*j] | codes[2*j+1]<<4
			}
		}
	}
	return q, nil
}

func clamp15(v float64) byte {
	if !(v > 0) { // also NaN
		return 0
	}
	if v > 15 {
		return 15
	}
	return byte(v)
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// Bnb4 is a [N, K] weight in ONNX Runtime's com.microsoft MatMulBnb4 layout: B is the
// flat bitsandbytes buffer of the row-major weight (element 2i in the HIGH nibble of
// byte i), Absmax float32 holds one scale per BlockSize consecutive elements of the
// flat index. QuantType is 0 for FP4, 1 for NF4 (the op's quant_type attribute).
type Bnb4 struct {
	N, K, BlockSize int
	QuantType       int
	B               []byte
	Absmax          []float32
}

// Bnb4 quant_type attribute values.
const (
	Bnb4FP4 = 0
	Bnb4NF4 = 1
)

// Dequantize writes the N×K float32 weight into dst: table[code]·absmax, one float32
// multiply, as bitsandbytes and ONNX Runtime compute it.
func (q *Bnb4) Dequantize(dst []float32) error {
	if len(dst) != q.N*q.K {
		return fmt.Errorf("%w: dst has %d elements, want %d", ErrPack, len(dst), q.N*q.K)
	}
	tab := &int4.NF4Table
	if q.QuantType == Bnb4FP4 {
		tab = &int4.FP4Table
	}
	for e := range dst {
		c := q.B[e>>1]
		if e&1 == 0 {
			c >>= 4
		}
		dst[e] = tab[c&15] * q.Absmax[e/q.BlockSize]
	}
	return nil
}

// Bnb4FromRows re-expresses an edgerun NF4/FP4 matrix (rows of 32-element blocks: a
// float32 absmax, then the 16 code bytes exactly as bitsandbytes packs them) or
// NF4_64/FP4_64 matrix (64-element blocks, 32 code bytes) as MatMulBnb4, bit-exact: the
// same code bytes in the same order, the same absmax. Adjacent blocks that share an
// absmax (a larger bitsandbytes blocksize, repacked) are folded back into the largest
// block size up to 256 that keeps every scale, so a bitsandbytes checkpoint exports with
// its own blocksize.
func Bnb4FromRows(t int4.Type, data []byte, n, k int) (*Bnb4, error) {
	qt := Bnb4NF4
	switch int4.Bnb4Base(t) {
	case int4.NF4:
	case int4.FP4:
		qt = Bnb4FP4
	default:
		return nil, fmt.Errorf("%w: %v is not NF4 or FP4", ErrPack, t)
	}
	be, bb := t.BlockElems(), t.BlockBytes()
	if n <= 0 || k <= 0 || k%be != 0 || len(data) != n*k/be*bb {
		return nil, fmt.Errorf("%w: %v %dx%d needs K%%%d == 0 and %d bytes, have %d", ErrPack, t, n, k, be, n*k/be*bb, len(data))
	}
	nb := n * k / be
	b := make([]byte, nb*be/2)
	am := make([]float32, nb)
	for i := 0; i < nb; i++ {
		blk := data[i*bb : (i+1)*bb]
		am[i] = math.Float32frombits(binary.LittleEndian.Uint32(blk))
		copy(b[i*be/2:], blk[4:])
	}
	bs := be
	for next := 2 * be; next <= 256; next *= 2 {
		g := next / be
		if nb%g != 0 || !uniformGroups(am, g) {
			break
		}
		bs = next
	}
	g := bs / be
	folded := make([]float32, nb/g)
	for i := range folded {
		folded[i] = am[i*g]
	}
	return &Bnb4{N: n, K: k, BlockSize: bs, QuantType: qt, B: b, Absmax: folded}, nil
}

func uniformGroups(am []float32, g int) bool {
	for i := 0; i < len(am); i += g {
		for j := 1; j < g; j++ {
			if math.Float32bits(am[i+j]) != math.Float32bits(am[i]) {
				return false
			}
		}
	}
	return true
}

// Bnb4FromState converts a bitsandbytes quant state of a row-major [n, k] weight to
// MatMulBnb4 with its own blocksize (16..256, a power of two) and de-nested float32
// absmax, bit-exact.
func Bnb4FromState(q *int4.Bnb4, n, k int) (*Bnb4, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.N != n*k {
		return nil, fmt.Errorf("%w: quant state has %d elements, want %dx%d", ErrPack, q.N, n, k)
	}
	if err := checkBlockSize(q.Blocksize); err != nil || q.Blocksize > 256 {
		return nil, fmt.Errorf("%w: bitsandbytes blocksize %d (MatMulBnb4 takes 16..256)", ErrPack, q.Blocksize)
	}
	tab := int4.Bnb4Table(q.Type)
	for i := range tab {
		if math.Float32bits(tab[i]) != math.Float32bits(q.QuantMap[i]) {
			return nil, fmt.Errorf("%w: non-standard %v code table", ErrPack, q.Type)
		}
	}
	qt := Bnb4NF4
	if int4.Bnb4Base(q.Type) == int4.FP4 {
		qt = Bnb4FP4
	}
	return &Bnb4{N: n, K: k, BlockSize: q.Blocksize, QuantType: qt, B: q.Packed, Absmax: append([]float32(nil), q.BlockAbsmax()...)}, nil
}

// Float32Bytes returns the little-endian bytes of v (a copy).
func Float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
