package loader

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/tokenizer"
)

// llama2cModel returns a tiny llama2.c v0 checkpoint whose float i (counted from the
// first weight) has the value i, so tensor placement can be checked.
func llama2cModel(dim, hidden, layers, heads, kvHeads, vocab, seqLen int, shared bool) []byte {
	le := binary.LittleEndian
	v := vocab
	if !shared {
		v = -vocab
	}
	var b []byte
	for _, x := range []int{dim, hidden, layers, heads, kvHeads, v, seqLen} {
		b = le.AppendUint32(b, uint32(int32(x)))
	}
	kvDim := dim * kvHeads / heads
	n := vocab*dim + layers*(2*dim+2*dim*dim+2*kvDim*dim+3*hidden*dim) + dim + seqLen*(dim/heads)
	if !shared {
		n += vocab * dim
	}
	return append(b, f32s(n, 1, 0)...)
}

// llama2cTokenizer encodes pieces as tokenizer.bin does (spaces, "\n<s>\n" specials).
func llama2cTokenizer(pieces []string, scores []float32) []byte {
	le := binary.LittleEndian
	maxLen := 0
	for _, p := range pieces {
		maxLen = max(maxLen, len(p))
	}
	b := le.AppendUint32(nil, uint32(maxLen))
	for i, p := range pieces {
		b = le.AppendUint32(b, math.Float32bits(scores[i]))
		b = le.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func firstFloat(t *Tensor) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(t.Data)) }

func TestLlama2cSynthetic(t *testing.T) {
	for _, shared := range []bool{true, false} {
		const dim, hidden, layers, heads, kvHeads, vocab, seq = 8, 12, 2, 4, 2, 6, 3
		p := writeTemp(t, "m.bin", llama2cModel(dim, hidden, layers, heads, kvHeads, vocab, seq, shared))
		c, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		want := Config{Arch: "llama", Dim: dim, FFN: hidden, Layers: layers, Heads: heads, KVHeads: kvHeads, HeadDim: 2, RopeDim: 2,
			Vocab: vocab, Context: seq, RMSEps: 1e-5, RopeBase: 10000, RopeScale: 1, Tied: shared}
		if c.Config != want || c.Format != "llama2c" || c.Vocab != nil {
			t.Errorf("config %+v (vocab %v)", c.Config, c.Vocab)
		}
		// Offsets in floats, from run.c's memory_map_weights.
		kvDim := dim * kvHeads / heads
		off := 0
		check := func(name string, shape []int, first int) {
			t.Helper()
			tt, err := c.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			for _, d := range shape {
				n *= d
			}
			if len(tt.Shape) != len(shape) || tt.Elems() != n || len(tt.Data) != 4*n || firstFloat(tt) != float32(first) {
				t.Errorf("%s: shape %v first %v, want %v first %d", name, tt.Shape, firstFloat(tt), shape, first)
			}
		}
		check("token_embd.weight", []int{vocab, dim}, off)
		off += vocab * dim
		groups := []struct {
			name  string
			shape []int
		}{
			{"attn_norm", []int{dim}}, {"attn_q", []int{dim, dim}}, {"attn_k", []int{kvDim, dim}}, {"attn_v", []int{kvDim, dim}},
			{"attn_output", []int{dim, dim}}, {"ffn_norm", []int{dim}}, {"ffn_gate", []int{hidden, dim}},
			{"ffn_down", []int{dim, hidden}}, {"ffn_up", []int{hidden, dim}},
		}
		for _, g := range groups {
			n := 1
			for _, d := range g.shape {
				n *= d
			}
			for l := 0; l < layers; l++ {
				check("blk."+string(rune('0'+l))+"."+g.name+".weight", g.shape, off)
				off += n
			}
		}
		check("output_norm.weight", []int{dim}, off)
		off += dim + seq*(dim/heads)
		if shared {
			if _, ok := c.Tensors["output.weight"]; ok {
				t.Error("shared classifier has output.weight")
			}
		} else {
			check("output.weight", []int{vocab, dim}, off)
		}
		if want := 2 + 9*layers + map[bool]int{true: 0, false: 1}[shared]; len(c.Order) != want || len(c.Tensors) != want {
			t.Errorf("%d tensors, want %d", len(c.Order), want)
		}
		c.Close()
	}
}

func TestLlama2cTokenizer(t *testing.T) {
	dir := t.TempDir()
	model := llama2cModel(8, 12, 1, 2, 2, 6, 2, true)
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n", "<0x0A>", " the", "a b"}
	scores := []float32{0, 0, 0, 0, -1.5, -2}
	os.WriteFile(filepath.Join(dir, "m.bin"), model, 0o644)
	os.WriteFile(filepath.Join(dir, "tok6.bin"), llama2cTokenizer(pieces, scores), 0o644)
	c, err := Open(filepath.Join(dir, "m.bin"))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Vocab
	want := &tokenizer.Vocab{
		Model:  "llama",
		Tokens: []string{"<unk>", "<s>", "</s>", "<0x0A>", "▁the", "a▁b"},
		Scores: scores,
		Types:  []int32{tokenizer.TypeUnknown, tokenizer.TypeControl, tokenizer.TypeControl, tokenizer.TypeByte, tokenizer.TypeNormal, tokenizer.TypeNormal},
		BOS:    1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, AddBOS: true, AddSpacePrefix: true,
	}
	if v == nil || !equalVocab(v, want) {
		t.Errorf("vocab\n got %+v\nwant %+v", v, want)
	}
	// Explicit path; a missing explicit path is an error.
	other := filepath.Join(t.TempDir(), "custom.bin")
	os.WriteFile(other, llama2cTokenizer(pieces, scores), 0o644)
	if c, err := Open(filepath.Join(dir, "m.bin"), WithTokenizer(other)); err != nil || c.Vocab == nil {
		t.Fatalf("explicit tokenizer: %v", err)
	}
	_, err = Open(filepath.Join(dir, "m.bin"), WithTokenizer(filepath.Join(dir, "nope.bin")))
	wantErr(t, err, ErrNotFound, "nope.bin")
	// tokenizer.bin beside the model is found too.
	os.Rename(filepath.Join(dir, "tok6.bin"), filepath.Join(dir, "tokenizer.bin"))
	if c, err := Open(filepath.Join(dir, "m.bin")); err != nil || c.Vocab == nil || len(c.Vocab.Tokens) != 6 {
		t.Fatalf("tokenizer.bin: %v", err)
	}
	// Bad tokenizers.
	tok := llama2cTokenizer(pieces, scores)
	for n := 0; n < len(tok); n++ {
		_, err := parseLlama2cTokenizer("tok.bin", tok[:n], 6)
		wantErr(t, err, ErrTruncated, "tok.bin")
	}
	bad := bytes.Clone(tok)
	binary.LittleEndian.PutUint32(bad[8:], 0xffffffff) // length of token 0 = -1
	_, err = parseLlama2cTokenizer("neg.bin", bad, 6)
	wantErr(t, err, ErrCorrupt, "neg.bin", "negative length")
	binary.LittleEndian.PutUint32(bad[8:], 1<<30)
	_, err = parseLlama2cTokenizer("huge.bin", bad, 6)
	wantErr(t, err, ErrCorrupt, "huge.bin", "past the end")
	os.WriteFile(filepath.Join(dir, "tokenizer.bin"), tok[:20], 0o644)
	_, err = Open(filepath.Join(dir, "m.bin"))
	wantErr(t, err, ErrTruncated, "tokenizer.bin")
}

func equalVocab(a, b *tokenizer.Vocab) bool {
	if a.Model != b.Model || a.Pre != b.Pre || len(a.Tokens) != len(b.Tokens) || len(a.Scores) != len(b.Scores) || len(a.Types) != len(b.Types) {
		return false
	}
	for i := range a.Tokens {
		if a.Tokens[i] != b.Tokens[i] || math.Float32bits(a.Scores[i]) != math.Float32bits(b.Scores[i]) || a.Types[i] != b.Types[i] {
			return false
		}
	}
	return a.BOS == b.BOS && a.EOS == b.EOS && a.UNK == b.UNK && a.PAD == b.PAD && a.EOT == b.EOT &&
		a.AddBOS == b.AddBOS && a.AddEOS == b.AddEOS && a.AddSpacePrefix == b.AddSpacePrefix
}

func TestLlama2cBad(t *testing.T) {
	good := llama2cModel(8, 12, 2, 4, 2, 6, 3, true)
	le := binary.LittleEndian
	set := func(field int, v int32) []byte {
		b := bytes.Clone(good)
		le.PutUint32(b[4*field:], uint32(v))
		return b
	}
	cases := []struct {
		name     string
		data     []byte
		kind     error
		contains string
	}{
		{"empty", nil, ErrTruncated, "empty"},
		{"header", good[:20], ErrTruncated, "header"},
		{"short", good[:len(good)-4], ErrTruncated, "implies"},
		{"long", append(bytes.Clone(good), 0, 0, 0, 0), ErrCorrupt, "implies"},
		{"unshared mismatch", set(5, -6), ErrTruncated, "separate classifier"},
		{"negative dim", set(0, -8), ErrCorrupt, "dim = -8"},
		{"zero layers", set(2, 0), ErrCorrupt, "n_layers = 0"},
		{"huge", set(1, 1<<24), ErrTruncated, "implies"},
		{"absurd", set(1, 1<<30), ErrCorrupt, "hidden_dim"},
		{"heads", set(3, 3), ErrCorrupt, "do not fit"},
		{"kv heads", set(4, 3), ErrCorrupt, "do not fit"},
		{"v1 export", append(le.AppendUint32(nil, llama2cMagicV1), good[4:]...), ErrUnsupported, "ak42"},
	}
	for _, c := range cases {
		p := writeTemp(t, c.name+".bin", c.data)
		_, err := Open(p)
		wantErr(t, err, c.kind, p, c.contains)
	}
	for n := 0; n < len(good); n += 7 {
		_, err := parseLlama2c("cut.bin", good[:n])
		wantErr(t, err, ErrTruncated, "cut.bin")
	}
}

func TestOpenDispatch(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir)
	wantErr(t, err, ErrUnsupported, dir, "config.json")
	_, err = Open(filepath.Join(dir, "missing.gguf"))
	wantErr(t, err, ErrNotFound, "missing.gguf")
	p := writeTemp(t, "model.safetensors", []byte("xxxxxxxx"))
	_, err = Open(p)
	wantErr(t, err, ErrTruncated, p)
	p = writeTemp(t, "model.dat", []byte("xxxxxxxx"))
	_, err = Open(p)
	wantErr(t, err, ErrBadMagic, p)
	p = writeTemp(t, "model.gguf", []byte("xxxxxxxx"))
	_, err = Open(p)
	wantErr(t, err, ErrBadMagic, p)
	// GGUF is detected by magic whatever the extension.
	b, _ := encodeGGUF(allKindsMeta(), smallTensors())
	p = writeTemp(t, "model.bin", b)
	c, err := Open(p)
	if err != nil || c.Format != "gguf" {
		t.Fatalf("gguf named .bin: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}
