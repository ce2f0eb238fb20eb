package tokenizer_test

import (
	"strings"
	"testing"
)

// benchText is about 10 KB of mixed prose, code, numbers and non-ASCII text.
var benchText = strings.Repeat("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "+
	"func main() { x := 12345; fmt.Println(x) }\n\tcafé naïve 東京 🦙 — it's 3.14159!\n", 60)[:10240]

func benchEncode(b *testing.B, tk interface{ Encode(string, bool) []int }) {
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Encode(benchText, true)
	}
}

// BenchmarkEncode encodes ~10 KB with the full Llama-2 SentencePiece vocabulary
// (32,000 pieces) and SmolLM's byte-level BPE (49,152 tokens).
func BenchmarkEncode(b *testing.B) {
	b.Run("spm-llama2", func(b *testing.B) {
		benchEncode(b, fromCheckpoint(b, "llama2-tiny-random/llama-2-tiny-random.gguf"))
	})
	b.Run("bpe-smollm", func(b *testing.B) {
		benchEncode(b, fromJSON(b, "peft-smollm135m-lora/tokenizer.json"))
	})
}

// BenchmarkDecode decodes the ids of the same text.
func BenchmarkDecode(b *testing.B) {
	tk := fromJSON(b, "peft-smollm135m-lora/tokenizer.json")
	ids := tk.Encode(benchText, false)
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Decode(ids)
	}
}
