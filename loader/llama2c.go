package loader

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/tokenizer"
)

// llama2.c legacy ("v0") checkpoint: a header of 7 int32 (dim, hidden_dim, n_layers,
// n_heads, n_kv_heads, vocab_size, seq_len) then float32 arrays; see docs/formats.md §7.
const (
	llama2cHeaderBytes = 7 * 4
	llama2cMagicV1     = 0x616b3432 // "ak42": newer export versions run.c does not read
	llama2cMaxHeader   = 1 << 24    // bound on each header field
)

// llama2cHeader is the v0 header.
type llama2cHeader struct {
	dim, hidden, layers, heads, kvHeads, vocab, seqLen int
	shared                                             bool
}

// mulChecked returns the product of xs, or ok=false if it exceeds limit.
func mulChecked(limit uint64, xs ...int) (int64, bool) {
	p := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(p, uint64(x))
		if hi != 0 || lo > limit {
			return 0, false
		}
		p = lo
	}
	return int64(p), true
}

// parseLlama2c reads a llama2.c v0 checkpoint held in data; tensors are views into data.
func parseLlama2c(path string, data []byte) (*Checkpoint, error) {
	if len(data) < llama2cHeaderBytes {
		if len(data) == 0 {
			return nil, errorf(path, ErrTruncated, "file is empty")
		}
		return nil, errorf(path, ErrTruncated, "llama2.c header needs %d bytes, file has %d", llama2cHeaderBytes, len(data))
	}
	le := binary.LittleEndian
	if le.Uint32(data) == llama2cMagicV1 {
		return nil, errorf(path, ErrUnsupported, "llama2.c export version %d (magic \"ak42\") is not supported; only the legacy v0 format is", int32(le.Uint32(data[4:])))
	}
	var f [7]int
	for i := range f {
		f[i] = int(int32(le.Uint32(data[4*i:])))
	}
	h := llama2cHeader{dim: f[0], hidden: f[1], layers: f[2], heads: f[3], kvHeads: f[4], vocab: f[5], seqLen: f[6], shared: f[5] > 0}
	if h.vocab < 0 {
		h.vocab = -h.vocab
	}
	names := [...]string{"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"}
	for i, v := range []int{h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLen} {
		if v <= 0 || v > llama2cMaxHeader {
			return nil, errorf(path, ErrCorrupt, "llama2.c header: %s = %d is out of range (not a llama2.c v0 checkpoint?)", names[i], f[i])
		}
	}
	if h.dim%h.heads != 0 || h.heads%h.kvHeads != 0 || (h.dim/h.heads)%2 != 0 {
		return nil, errorf(path, ErrCorrupt, "llama2.c header: dim %d, n_heads %d, n_kv_heads %d do not fit together", h.dim, h.heads, h.kvHeads)
	}
	headSize := h.dim / h.heads
	kvDim := h.dim * h.kvHeads / h.heads

	type part struct {
		name  string // "%d" is the layer for per-layer tensors
		shape []int  // per layer
		layer bool
		skip  bool
	}
	parts := []part{
		{name: "token_embd.weight", shape: []int{h.vocab, h.dim}},
		{name: "blk.%d.attn_norm.weight", shape: []int{h.dim}, layer: true},
		{name: "blk.%d.attn_q.weight", shape: []int{h.dim, h.dim}, layer: true},
		{name: "blk.%d.attn_k.weight", shape: []int{kvDim, h.dim}, layer: true},
		{name: "blk.%d.attn_v.weight", shape: []int{kvDim, h.dim}, layer: true},
		{name: "blk.%d.attn_output.weight", shape: []int{h.dim, h.dim}, layer: true},
		{name: "blk.%d.ffn_norm.weight", shape: []int{h.dim}, layer: true},
		{name: "blk.%d.ffn_gate.weight", shape: []int{h.hidden, h.dim}, layer: true}, // w1
		{name: "blk.%d.ffn_down.weight", shape: []int{h.dim, h.hidden}, layer: true}, // w2
		{name: "blk.%d.ffn_up.weight", shape: []int{h.hidden, h.dim}, layer: true},   // w3
		{name: "output_norm.weight", shape: []int{h.dim}},
		{name: "freq_cis_real", shape: []int{h.seqLen, headSize / 2}, skip: true},
		{name: "freq_cis_imag", shape: []int{h.seqLen, headSize / 2}, skip: true},
	}
	if !h.shared {
		parts = append(parts, part{name: "output.weight", shape: []int{h.vocab, h.dim}})
	}
	// Size check first, in 64-bit arithmetic that cannot overflow: every product is
	// bounded and there are few terms.
	const limit = 1 << 56
	want := int64(llama2cHeaderBytes)
	for _, p := range parts {
		n, ok := mulChecked(limit, p.shape...)
		if ok && p.layer {
			n, ok = mulChecked(limit, int(n), h.layers)
		}
		if !ok {
			return nil, errorf(path, ErrCorrupt, "llama2.c header: %s of shape %v is absurdly large", p.name, p.shape)
		}
		want += 4 * n
	}
	if got := int64(len(data)); got != want {
		kind := ErrTruncated
		if got > want {
			kind = ErrCorrupt
		}
		shared := "shared"
		if !h.shared {
			shared = "separate"
		}
		return nil, errorf(path, kind, "llama2.c header (dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq_len %d, %s classifier) implies %d bytes, file has %d",
			h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLen, shared, want, got)
	}

	c := &Checkpoint{
		Path:    path,
		Format:  "llama2c",
		Tensors: make(map[string]*Tensor),
		Meta:    map[string]any{},
	}
	off := llama2cHeaderBytes
	add := func(name string, shape []int, n int) {
		t := &Tensor{Name: name, Type: int4.F32, Shape: shape, Data: data[off : off+4*n : off+4*n]}
		c.Tensors[name] = t
		c.Order = append(c.Order, name)
		off += 4 * n
	}
	for _, p := range parts {
		n := 1
		for _, d := range p.shape {
			n *= d
		}
		switch {
		case p.skip:
			off += 4 * n
		case p.layer:
			for l := 0; l < h.layers; l++ {
				add(fmt.Sprintf(p.name, l), append([]int(nil), p.shape...), n)
			}
		default:
			add(p.name, p.shape, n)
		}
	}
	c.Config = Config{
		Arch: "llama", Dim: h.dim, FFN: h.hidden, Layers: h.layers, Heads: h.heads, KVHeads: h.kvHeads,
		HeadDim: headSize, RopeDim: headSize, Vocab: h.vocab, Context: h.seqLen,
		RMSEps: 1e-5, RopeBase: 10000, RopeScale: 1, RopeNeox: false, Tied: h.shared,
	}
	// Meta mirrors what a GGUF conversion would say, for inspection.
	kvs := []KV{
		{"general.architecture", "llama"},
		{"llama.context_length", uint32(h.seqLen)},
		{"llama.embedding_length", uint32(h.dim)},
		{"llama.feed_forward_length", uint32(h.hidden)},
		{"llama.block_count", uint32(h.layers)},
		{"llama.attention.head_count", uint32(h.heads)},
		{"llama.attention.head_count_kv", uint32(h.kvHeads)},
		{"llama.rope.dimension_count", uint32(headSize)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.vocab_size", uint32(h.vocab)},
	}
	for _, kv := range kvs {
		c.Meta[kv.Key] = kv.Value
		c.MetaKeys = append(c.MetaKeys, kv.Key)
	}
	return c, nil
}

// findLlama2cTokenizer returns the tokenizer file to use for the model at path: the
// explicit one, else tok<vocab>.bin or tokenizer.bin beside the model ("" when none).
// tok<vocab>.bin is tried first: it is specific to the vocabulary size, while a
// tokenizer.bin next to it may be the 32000-token Llama 2 one.
func findLlama2cTokenizer(path, explicit string, vocab int) string {
	if explicit != "" {
		return explicit
	}
	dir := filepath.Dir(path)
	for _, name := range []string{fmt.Sprintf("tok%d.bin", vocab), "tokenizer.bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && p != path {
			return p
		}
	}
	return ""
}

// loadLlama2cTokenizer reads a llama2.c tokenizer.bin file for a vocabulary of n tokens.
func loadLlama2cTokenizer(path string, n int) (*tokenizer.Vocab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, wrapf(path, ErrNotFound, err, "tokenizer")
		}
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	return parseLlama2cTokenizer(path, data, n)
}

// parseLlama2cTokenizer decodes a llama2.c tokenizer.bin (int32 max_token_length, then
// per token: f32 score, int32 length, bytes) into a SentencePiece-style Vocab. Only the
// first n tokens are read (the count comes from the model header); bytes after them are
// ignored as run.c does.
func parseLlama2cTokenizer(path string, data []byte, n int) (*tokenizer.Vocab, error) {
	le := binary.LittleEndian
	if len(data) < 4 {
		return nil, errorf(path, ErrTruncated, "tokenizer.bin needs a 4-byte header, file has %d bytes", len(data))
	}
	maxLen := int32(le.Uint32(data))
	if maxLen < 0 {
		return nil, errorf(path, ErrCorrupt, "tokenizer.bin: max_token_length %d is negative", maxLen)
	}
	if uint64(n) > uint64(len(data)-4)/8 {
		return nil, errorf(path, errCountTooLarge, "tokenizer.bin of %d bytes cannot hold the model's %d tokens (at least 8 bytes each)", len(data), n)
	}
	v := &tokenizer.Vocab{
		Model: "llama", Tokens: make([]string, n), Scores: make([]float32, n), Types: make([]int32, n),
		BOS: 1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, AddBOS: true, AddSpacePrefix: true,
	}
	off := 4
	for i := 0; i < n; i++ {
		if len(data)-off < 8 {
			return nil, errorf(path, ErrTruncated, "tokenizer.bin truncated at offset %d in token %d of %d", off, i, n)
		}
		score := math.Float32frombits(le.Uint32(data[off:]))
		l := int32(le.Uint32(data[off+4:]))
		off += 8
		if l < 0 {
			return nil, errorf(path, ErrCorrupt, "tokenizer.bin: token %d has negative length %d", i, l)
		}
		if int64(l) > int64(len(data)-off) {
			return nil, errorf(path, errCountTooLarge, "tokenizer.bin: token %d of length %d at offset %d extends past the end of the file (%d bytes)", i, l, off-4, len(data))
		}
		piece := string(data[off : off+int(l)])
		off += int(l)
		v.Tokens[i] = strings.ReplaceAll(piece, " ", "\u2581")
		v.Scores[i] = score
		v.Types[i] = tokenizer.TypeNormal
		if isBytePiece(piece) {
			v.Types[i] = tokenizer.TypeByte
		}
	}
	specials := [...]struct {
		piece string
		typ   int32
	}{{"<unk>", tokenizer.TypeUnknown}, {"<s>", tokenizer.TypeControl}, {"</s>", tokenizer.TypeControl}}
	for i, s := range specials {
		if i < n {
			v.Tokens[i], v.Types[i] = s.piece, s.typ
		}
	}
	for _, id := range []*int{&v.BOS, &v.EOS, &v.UNK} {
		if *id >= n {
			*id = -1
		}
	}
	if v.BOS < 0 {
		v.AddBOS = false
	}
	return v, nil
}

// isBytePiece reports whether s is a byte-fallback piece <0xHH>.
func isBytePiece(s string) bool {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return false
	}
	for _, c := range s[3:5] {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
