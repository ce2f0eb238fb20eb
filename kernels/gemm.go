package kernels

import (
	"encoding/binary"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// Prefill GEMM over 8 interleaved weight rows.
//
// For prompts (n ≥ 4 tokens) MatMul re-packs each tile of 8 Q4_0 weight rows on the fly
// into an interleaved layout (q4x8BlockBytes per block column) and runs a micro-kernel
// that multiplies the tile with 4 tokens at a time: each 32-byte weight vector then
// holds 4 bytes of every row, so one broadcast 4-byte activation group feeds a byte
// multiply-add for all 8 rows, the 8 lanes of the accumulators are the 8 rows, and the
// scales of the 8 rows are one fp16 vector. The re-packing costs one pass over the tile
// per MatMul, shared by every token of the prompt, and needs no extra memory beyond one
// tile per worker (the mmapped weights stay as they are).
//
// Result: for row r and token t, y = Σ_b (dw(r,b)·dx(t,b))·float32(s(r,t,b)) summed in
// block order with fused multiply-adds, where s is the exact integer block dot product
// (the generic spec's terms; only the float rounding of the sum differs from it). The
// decode kernel of the same implementation computes aligned groups of 8 rows the same
// way, so prefill and decode agree bit for bit.
//
// IQ4_NL, NF4 and FP4 (codebook types) use the same scheme with a decoded tile
// (nibTileBlockBytes: the int8 codebook values and their magnitudes, looked up once per
// tile) and their own micro-kernel; see nib8_amd64.s.

// q4x8BlockBytes is one block column of an 8-row Q4_0 tile: the 8 rows' fp16 scales
// (16 bytes), then for k < 4, 32 bytes holding bytes 4k..4k+3 of the quants of row 0,
// row 1, …, row 7 (low nibbles: elements 4k..4k+3; high nibbles: 16+4k..16+4k+3).
const q4x8BlockBytes = 144

// gqBlockBytes is one block of a 4-token activation group for the GEMM kernels: the 4
// tokens' 32 int8 values (token t at 32t), their block sums times 8 (int32, at 128+4t:
// the Q4_0 -8 offset), their scales (float32, at 144+4t).
const gqBlockBytes = 160

// gemmKernel multiplies one interleaved 8-row tile of nb block columns (see
// q4x8BlockBytes) with one 4-token group g (see gqBlockBytes): out[8t+r] = y for
// tile row r and group token t.
type gemmKernel func(w []byte, nb int, g []byte, out *[32]float32)

// tileBuilder writes the GEMM tile of weight rows 0..7 of w (rows ≥ 1 valid rows of
// rowBytes; missing rows repeat the last valid one) for nb block columns into dst.
type tileBuilder func(w []byte, rowBytes, rows, nb int, dst []byte)

// gemmSpec is a weight type's GEMM: the kernel, its tile builder and tile block size,
// and whether its activation groups are packed permuted for NF4/FP4's nibble order
// (see permuteBnb4).
type gemmSpec struct {
	kern    gemmKernel
	il      tileBuilder
	blkSize int
	perm    bool
}

// gemmFor returns the 8×4 GEMM of t (kern nil: none).
func gemmFor(t int4.Type) gemmSpec {
	if t == int4.Q4_0 && active.q4_0x8x4 != nil {
		il := active.q4_0x8il
		if il == nil {
			il = interleaveQ4_0x8
		}
		return gemmSpec{kern: active.q4_0x8x4, il: il, blkSize: q4x8BlockBytes}
	}
	if t == int4.Q8_0 {
		return active.q8_0gemm
	}
	return active.kt.q[t].gemm
}

// interleaveQ4_0x8 writes the tile of weight rows 0..7 of w (rows ≥ 1 valid rows of
// rowBytes; missing rows repeat the last valid one) in the q4x8BlockBytes layout into
// dst (nb·q4x8BlockBytes bytes).
func interleaveQ4_0x8(w []byte, rowBytes, rows, nb int, dst []byte) {
	dst = dst[:nb*q4x8BlockBytes]
	for r := 0; r < 8; r++ {
		src := w[min(r, rows-1)*rowBytes:][: nb*18 : nb*18]
		for b := 0; b < nb; b++ {
			blk := src[b*18 : b*18+18 : b*18+18]
			o := dst[b*q4x8BlockBytes : (b+1)*q4x8BlockBytes : (b+1)*q4x8BlockBytes]
			o[2*r], o[2*r+1] = blk[0], blk[1]
			for k := 0; k < 4; k++ {
				binary.LittleEndian.PutUint32(o[16+32*k+4*r:], binary.LittleEndian.Uint32(blk[2+4*k:]))
			}
		}
	}
}

// nibTileBlockBytes is one block column of a decoded 8-row tile of a codebook type
// (IQ4_NL, NF4, FP4) for the GEMM: the 8 rows' scales as float32 (32 bytes), then for
// k < 4 four 32-byte vectors holding, for row 0, row 1, …, row 7, 4 bytes each: |w| of
// elements 4k..4k+3, w of the same, |w| of elements 16+4k..16+4k+3, w of the same,
// where w is the int8 codebook value of the element's nibble and the elements are in
// the kernels' order (IQ4_NL's block order; for NF4/FP4 low nibbles first, see
// permuteBnb4). The nibbles are decoded once per tile and reused by every token group.
const nibTileBlockBytes = 544

// decodeTile8 writes the decoded tile (nibTileBlockBytes layout) of weight rows 0..7 of w
// (rows ≥ 1 valid rows of rowBytes; missing rows repeat the last valid one) for nb
// blocks of bb bytes (scale at 0: fp16 when f16, else float32; 16 nibble bytes at qoff),
// with codebook tab (16 entries, none -128), into dst (nb·nibTileBlockBytes bytes). With
// tab nil the block holds 32 int8 weights at qoff (Q8_0) instead of nibbles.
func decodeTile8(w []byte, rowBytes, rows, nb int, dst []byte, bb, qoff int, f16 bool, tab *[32]int8) {
	dst = dst[:nb*nibTileBlockBytes]
	for r := 0; r < 8; r++ {
		src := w[min(r, rows-1)*rowBytes:][: nb*bb : nb*bb]
		for b := 0; b < nb; b++ {
			blk := src[b*bb : (b+1)*bb : (b+1)*bb]
			o := dst[b*nibTileBlockBytes : (b+1)*nibTileBlockBytes : (b+1)*nibTileBlockBytes]
			if f16 {
				binary.LittleEndian.PutUint32(o[4*r:], math.Float32bits(int4.F16ToF32(binary.LittleEndian.Uint16(blk))))
			} else {
				copy(o[4*r:4*r+4], blk[0:4])
			}
			for k := 0; k < 4; k++ {
				v := o[32+128*k : 32+128*(k+1) : 32+128*(k+1)]
				for i := 0; i < 4; i++ {
					var lo, hi int8
					if tab == nil {
						lo, hi = int8(blk[qoff+4*k+i]), int8(blk[qoff+16+4*k+i])
					} else {
						c := blk[qoff+4*k+i]
						lo, hi = tab[c&15], tab[c>>4]
					}
					v[4*r+i], v[32+4*r+i] = absI8(lo), byte(lo)
					v[64+4*r+i], v[96+4*r+i] = absI8(hi), byte(hi)
				}
			}
		}
	}
}

// q8_0Tile8 writes the tile of Q8_0 weight rows 0..7 of w (rows ≥ 1 valid rows of
// rowBytes; missing rows repeat the last valid one) in the nibTileBlockBytes layout
// (the rows' int8 weights in place of codebook values) into dst.
func q8_0Tile8(w []byte, rowBytes, rows, nb int, dst []byte) {
	decodeTile8(w, rowBytes, rows, nb, dst, 34, 2, true, nil)
}

// decodeTileIQ4NL, decodeTileNF4 and decodeTileFP4 are decodeTile8 for one type.
func decodeTileIQ4NL(w []byte, rowBytes, rows, nb int, dst []byte) {
	decodeTile8(w, rowBytes, rows, nb, dst, 18, 2, true, &iq4nlTab)
}

func decodeTileNF4(w []byte, rowBytes, rows, nb int, dst []byte) {
	decodeTile8(w, rowBytes, rows, nb, dst, 20, 4, false, &nf4Tab.w)
}

func decodeTileFP4(w []byte, rowBytes, rows, nb int, dst []byte) {
	decodeTile8(w, rowBytes, rows, nb, dst, 20, 4, false, &fp4Tab.w)
}

// decodeTileBnb64 is decodeTile8 for NF4_64/FP4_64 rows (blocks of 36 bytes) with the
// int8 code table tab, nb tile block columns (32 elements each, nb even): each column
// is one half of a 64-element block as the NF4/FP4 block with the same absmax and that
// half's 16 code bytes, so the tile equals the one of the rows in the 32-element layout.
func decodeTileBnb64(w []byte, rowBytes, rows, nb int, dst []byte, tab *[32]int8) {
	var blk [8 * 40]byte
	dst = dst[:nb*nibTileBlockBytes]
	for h := 0; h < nb; h++ {
		for r := 0; r < 8; r++ {
			src := w[min(r, rows-1)*rowBytes+h/2*36:][:36:36]
			copy(blk[40*r:40*r+4], src[0:4])
			copy(blk[40*r+4:40*r+20], src[4+16*(h%2):20+16*(h%2)])
		}
		decodeTile8(blk[:], 40, 8, 1, dst[h*nibTileBlockBytes:(h+1)*nibTileBlockBytes], 20, 4, false, tab)
	}
}

// packGQ writes rows 0 .. 4·groups-1 of a into a.gq, four at a time, in the
// gqBlockBytes layout; with perm, each block's 32 values permuted by permuteBnb4 (the
// block sums do not change).
func (a *q8Act) packGQ(groups int, perm bool) {
	nb := a.cols / qBlock
	size := groups * nb * gqBlockBytes
	if cap(a.gq) < size {
		a.gq = make([]byte, size)
	}
	a.gq = a.gq[:size]
	for gi := 0; gi < groups; gi++ {
		for t := 0; t < 4; t++ {
			q, d, c := a.row(4*gi + t)
			for b := 0; b < nb; b++ {
				blk := a.gq[(gi*nb+b)*gqBlockBytes : (gi*nb+b+1)*gqBlockBytes : (gi*nb+b+1)*gqBlockBytes]
				qs := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
				o := blk[32*t : 32*t+32 : 32*t+32]
				if perm {
					permuteBnb4(o, qs)
				} else {
					for k := range o {
						o[k] = byte(qs[k])
					}
				}
				cs := c[b*8 : b*8+8 : b*8+8]
				sum := cs[0] + cs[1] + cs[2] + cs[3] + cs[4] + cs[5] + cs[6] + cs[7]
				binary.LittleEndian.PutUint32(blk[128+4*t:], uint32(sum))
				binary.LittleEndian.PutUint32(blk[144+4*t:], math.Float32bits(d[b]))
			}
		}
	}
}

// groupQ returns the packed blocks of GEMM group gi (rows 4gi .. 4gi+3).
func (a *q8Act) groupQ(gi int) []byte {
	n := a.cols / qBlock * gqBlockBytes
	return a.gq[gi*n : (gi+1)*n]
}

// gemmRows is MatMul's loop body over rows [lo, hi) (lo a multiple of 8) with the
// GEMM kernel: tokens in groups of 4, the n%4 last ones with the one-row kernel (whose
// 8-row groups give the GEMM's results bit for bit).
func (j *mulJob) gemmRows(lo, hi, w int) {
	m := j.m
	rb := m.RowBytes
	nb := m.Cols / qBlock
	tile := j.p.bbuf(w, nb*j.g.blkSize)
	groups := j.n / 4
	out := &j.p.outs[w]
	for r0 := lo; r0 < hi; r0 += 8 {
		r1 := min(r0+8, hi)
		first := 0 // first token on the one-row kernel
		if r1-r0 == 8 {
			// Full tiles only: the last Rows%8 rows take the one-row kernel for every
			// token, as in MatVec, so MatMul gives MatVec's results bit for bit.
			first = 4 * groups
		}
		if first > 0 {
			j.g.il(m.Data[r0*rb:r1*rb], rb, r1-r0, nb, tile)
		}
		for gi := 0; gi < first/4; gi++ {
			j.g.kern(tile, nb, j.p.act.groupQ(gi), out)
			for t := 0; t < 4; t++ {
				copy(j.y[(4*gi+t)*m.Rows+r0:(4*gi+t)*m.Rows+r1], out[8*t:8*t+r1-r0])
			}
		}
		for i := first; i < j.n; i++ {
			// Tokens below 4·groups come here only with the last Rows%8 rows, which
			// the one-row kernels run without prepared activation blocks (MatMul
			// prepares the tokens from 4·groups on).
			j.rows.run(&j.p.act, i, m.Data[r0*rb:r1*rb], rb, j.y[i*m.Rows+r0:i*m.Rows+r1])
		}
	}
}

// gemmOut is one worker's GEMM output tile, padded to its own cache lines.
type gemmOut = [32]float32
