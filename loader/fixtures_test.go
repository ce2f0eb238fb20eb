package loader

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/tokenizer"
)

func openFixture(t *testing.T, rel string, opts ...Option) *Checkpoint {
	t.Helper()
	p := filepath.Join(testmodels.Dir(t), rel)
	c, err := Open(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStories260KGGUF(t *testing.T) {
	c := openFixture(t, "stories260K/stories260K.gguf")
	want := Config{Arch: "llama", Dim: 64, FFN: 172, Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 8, RopeDim: 8, Vocab: 512,
		Context: 2048, RMSEps: 1e-5, RopeBase: 10000, RopeScale: 1, RopeNeox: false, Tied: false}
	if c.Config != want {
		t.Errorf("config\n got %+v\nwant %+v", c.Config, want)
	}
	if len(c.Tensors) != 3+9*5 {
		t.Errorf("%d tensors", len(c.Tensors))
	}
	shapes := map[string][]int{
		"token_embd.weight": {512, 64}, "output.weight": {512, 64}, "output_norm.weight": {64},
		"blk.0.attn_q.weight": {64, 64}, "blk.0.attn_k.weight": {32, 64}, "blk.0.attn_v.weight": {32, 64},
		"blk.4.attn_output.weight": {64, 64}, "blk.0.attn_norm.weight": {64}, "blk.2.ffn_norm.weight": {64},
		"blk.0.ffn_gate.weight": {172, 64}, "blk.0.ffn_up.weight": {172, 64}, "blk.3.ffn_down.weight": {64, 172},
	}
	for name, shape := range shapes {
		tt, err := c.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(tt.Shape, shape) {
			t.Errorf("%s shape %v, want %v", name, tt.Shape, shape)
		}
	}
	for _, tt := range c.Tensors {
		if tt.Type != int4.F32 || len(tt.Data) != 4*tt.Elems() {
			t.Errorf("%s: %v with %d bytes for %v", tt.Name, tt.Type, len(tt.Data), tt.Shape)
		}
	}
	v := c.Vocab
	if v == nil || v.Model != "llama" || len(v.Tokens) != 512 || len(v.Scores) != 512 || len(v.Types) != 512 ||
		v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != -1 || !v.AddBOS || !v.AddSpacePrefix {
		t.Fatalf("vocab %+v", v)
	}
	if v.Tokens[3] != "<0x00>" || v.Types[3] != tokenizer.TypeByte || v.Tokens[258] != "<0xFF>" || v.Types[1] != tokenizer.TypeControl {
		t.Errorf("byte tokens: %q %v %q", v.Tokens[3], v.Types[3], v.Tokens[258])
	}
	if _, err := c.Tensor("blk.5.attn_q.weight"); err == nil {
		t.Fatal("found blk.5")
	} else {
		wantErr(t, err, ErrMissingTensor, "stories260K.gguf", "blk.5.attn_q.weight")
	}
}

// TestStories260KRewrite writes the fixture back with WriteGGUF: the bytes must be
// identical to the original (same metadata order, alignment, offsets and padding).
func TestStories260KRewrite(t *testing.T) {
	c := openFixture(t, "stories260K/stories260K.gguf")
	var tensors []*Tensor
	for _, n := range c.Order {
		tensors = append(tensors, c.Tensors[n])
	}
	out := filepath.Join(t.TempDir(), "copy.gguf")
	if err := WriteGGUF(out, c.MetaKVs(), tensors); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(c.Path)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		t.Fatalf("rewritten file differs (%d vs %d bytes)", len(a), len(b))
	}
}

func TestStories260KLlama2c(t *testing.T) {
	g := openFixture(t, "stories260K/stories260K.gguf")
	b := openFixture(t, "stories260K/stories260K.bin") // finds tok512.bin beside it
	want := g.Config
	want.Context, want.Tied = 512, true // the .bin has the trained context and a shared classifier
	if b.Config != want {
		t.Errorf("config\n got %+v\nwant %+v", b.Config, want)
	}
	for _, name := range b.Order {
		bt, gt := b.Tensors[name], g.Tensors[name]
		if gt == nil {
			t.Errorf("%s not in the GGUF", name)
			continue
		}
		if !reflect.DeepEqual(bt.Shape, gt.Shape) || bt.Type != gt.Type || !bytes.Equal(bt.Data, gt.Data) {
			t.Errorf("%s differs: %v %v vs %v %v", name, bt.Type, bt.Shape, gt.Type, gt.Shape)
		}
	}
	if len(b.Order) != len(g.Order)-1 { // all but output.weight
		t.Errorf("%d tensors in .bin, %d in GGUF", len(b.Order), len(g.Order))
	}
	if !bytes.Equal(g.Tensors["output.weight"].Data, b.Tensors["token_embd.weight"].Data) {
		t.Error("GGUF output.weight is not the tied embedding")
	}
	bv, gv := b.Vocab, g.Vocab
	if bv == nil {
		t.Fatal("no vocab from tok512.bin")
	}
	if !equalVocab(bv, gv) {
		for i := range gv.Tokens {
			if bv.Tokens[i] != gv.Tokens[i] || math.Float32bits(bv.Scores[i]) != math.Float32bits(gv.Scores[i]) || bv.Types[i] != gv.Types[i] {
				t.Errorf("token %d: %q %v %d vs GGUF %q %v %d", i, bv.Tokens[i], bv.Scores[i], bv.Types[i], gv.Tokens[i], gv.Scores[i], gv.Types[i])
				break
			}
		}
		t.Errorf("vocab differs from the GGUF's")
	}
	// The explicit option gives the same vocabulary.
	e := openFixture(t, "stories260K/stories260K.bin", WithTokenizer(filepath.Join(testmodels.Dir(t), "stories260K/tok512.bin")))
	if !equalVocab(e.Vocab, gv) {
		t.Error("explicit tokenizer differs")
	}
}

func TestLlama2TinyRandom(t *testing.T) {
	c := openFixture(t, "llama2-tiny-random/llama-2-tiny-random.gguf")
	want := Config{Arch: "llama", Dim: 8, FFN: 32, Layers: 1, Heads: 2, KVHeads: 2, HeadDim: 4, RopeDim: 4, Vocab: 32000,
		Context: 4096, RMSEps: 1e-5, RopeBase: 10000, RopeScale: 1}
	if c.Config != want {
		t.Errorf("config\n got %+v\nwant %+v", c.Config, want)
	}
	for _, name := range []string{"token_embd.weight", "output.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight"} {
		tt, err := c.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if tt.Type != int4.F16 || len(tt.Data) != 2*tt.Elems() {
			t.Errorf("%s: %v, %d bytes for %v", name, tt.Type, len(tt.Data), tt.Shape)
		}
	}
	if s := c.Tensors["token_embd.weight"].Shape; !reflect.DeepEqual(s, []int{32000, 8}) {
		t.Errorf("token_embd shape %v", s)
	}
	if tt := c.Tensors["blk.0.attn_norm.weight"]; tt.Type != int4.F32 {
		t.Errorf("attn_norm type %v", tt.Type)
	}
	v := c.Vocab
	if v == nil || len(v.Tokens) != 32000 || len(v.Scores) != 32000 || len(v.Types) != 32000 || v.BOS != 1 || v.EOS != 2 || v.UNK != 0 {
		t.Fatalf("vocab %+v", v)
	}
	if v.Tokens[0] != "<unk>" || v.Types[0] != tokenizer.TypeUnknown || v.Tokens[13] != "<0x0A>" || v.Types[13] != tokenizer.TypeByte || v.Tokens[259] != "▁▁" {
		t.Errorf("tokens %q %q %q", v.Tokens[0], v.Tokens[13], v.Tokens[259])
	}
}
