package runtime

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unsafe"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/tokenizer"
)

// DemoName is the model name `edgerun run` uses when no -m is given.
const DemoName = "demo:random-q4_0"

// demoWords become SentencePiece pieces of the demo vocabulary, so its (random) output
// is made of words rather than single bytes.
const demoWords = `the a and to of in was he she it they you i is on for with as his her that
had at but not one day said big little cat dog sun tree ball park girl boy mom dad friend
happy sad saw went played time once upon there lily tom ben red blue green run jump look
home bird fish water cake toy box car hat sky moon star rain wind good very so too then`

// DemoCheckpoint builds, in memory, the small model `edgerun run` runs when no model
// is named: a LLaMA-architecture network (dim 128, 4 layers, GQA 4/2 heads, Q4_0
// matrices) with weights drawn from a fixed seed and a word-level SentencePiece
// vocabulary; its output layer only scores word pieces. It is deterministic but untrained:
// it shows the machinery, not language.
func DemoCheckpoint() *loader.Checkpoint {
	const (
		dim, ffn, layers, heads, kvHeads = 128, 384, 4, 4, 2
	)
	vocab := &tokenizer.Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(piece string, typ int32, score float32) {
		vocab.Tokens = append(vocab.Tokens, piece)
		vocab.Types = append(vocab.Types, typ)
		vocab.Scores = append(vocab.Scores, score)
	}
	add("<unk>", tokenizer.TypeUnknown, 0)
	add("<s>", tokenizer.TypeControl, 0)
	add("</s>", tokenizer.TypeControl, 0)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), tokenizer.TypeByte, 0)
	}
	for c := 'a'; c <= 'z'; c++ {
		add(string(c), tokenizer.TypeNormal, -100)
	}
	add("▁", tokenizer.TypeNormal, -100)
	add(",", tokenizer.TypeNormal, -100)
	add(".", tokenizer.TypeNormal, -100)
	seen := map[string]bool{}
	for i, w := range strings.Fields(demoWords) {
		if seen[w] {
			continue
		}
		seen[w] = true
		add("▁"+w, tokenizer.TypeNormal, float32(-i))
	}
	nVocab := len(vocab.Tokens)
	rng := rand.New(rand.NewPCG(2026, 11))
	ck := &loader.Checkpoint{
		Path:   DemoName,
		Format: "demo",
		Config: loader.Config{Arch: "llama", Dim: dim, FFN: ffn, Layers: layers, Heads: heads, KVHeads: kvHeads,
			HeadDim: dim / heads, RopeDim: dim / heads, Vocab: nVocab, Context: 512, RMSEps: 1e-5, RopeBase: 10000},
		Tensors: map[string]*loader.Tensor{},
		Vocab:   vocab,
		Meta:    map[string]any{"general.name": "edgerun demo (random weights)"},
	}
	// addT adds a rows×cols tensor; rows before skipRows are zero (so the output layer
	// never favours byte or control tokens), the others N(0, std²) or all ones.
	addT := func(name string, typ int4.Type, rows, cols int, std float32, ones bool, skipRows int) {
		vals := make([]float32, rows*cols)
		for i := skipRows * cols; i < len(vals); i++ {
			if ones {
				vals[i] = 1
			} else {
				vals[i] = float32(rng.NormFloat64()) * std
			}
		}
		t := &loader.Tensor{Name: name, Type: typ, Shape: []int{rows, cols}}
		if rows == 1 {
			t.Shape = []int{cols}
		}
		rb, _ := int4.RowBytes(typ, cols)
		t.Data = make([]byte, rows*rb)
		if typ == int4.F32 {
			copy(t.Data, unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), 4*len(vals)))
		} else {
			for r := 0; r < rows; r++ {
				_ = int4.QuantizeRow(typ, vals[r*cols:(r+1)*cols], t.Data[r*rb:(r+1)*rb])
			}
		}
		ck.Tensors[name] = t
		ck.Order = append(ck.Order, name)
	}
	addT("token_embd.weight", int4.Q8_0, nVocab, dim, 1, false, 0)
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		addT(p+"attn_norm.weight", int4.F32, 1, dim, 0, true, 0)
		addT(p+"attn_q.weight", int4.Q4_0, dim, dim, 0.15, false, 0)
		addT(p+"attn_k.weight", int4.Q4_0, dim/heads*kvHeads, dim, 0.15, false, 0)
		addT(p+"attn_v.weight", int4.Q4_0, dim/heads*kvHeads, dim, 0.1, false, 0)
		addT(p+"attn_output.weight", int4.Q4_0, dim, dim, 0.05, false, 0)
		addT(p+"ffn_norm.weight", int4.F32, 1, dim, 0, true, 0)
		addT(p+"ffn_gate.weight", int4.Q4_0, ffn, dim, 0.1, false, 0)
		addT(p+"ffn_up.weight", int4.Q4_0, ffn, dim, 0.1, false, 0)
		addT(p+"ffn_down.weight", int4.Q4_0, dim, ffn, 0.05, false, 0)
	}
	addT("output_norm.weight", int4.F32, 1, dim, 0, true, 0)
	addT("output.weight", int4.Q8_0, nVocab, dim, 0.25, false, 259)
	return ck
}
