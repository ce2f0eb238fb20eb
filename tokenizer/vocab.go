// Package tokenizer turns text into token ids and back: SentencePiece-style BPE with
// scores and byte fallback (GGUF tokenizer.ggml.model "llama", llama2.c tokenizer.bin)
// and byte-level BPE with merges (GGUF "gpt2", HF tokenizer.json).
package tokenizer

// Token types as GGUF's tokenizer.ggml.token_type stores them.
const (
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// Vocab is the data a tokenizer is built from, as loaders find it in a file. It holds
// no behaviour; New turns it into a Tokenizer.
type Vocab struct {
	// Model is "llama" (SentencePiece-style BPE over scores) or "gpt2" (byte-level BPE
	// over merges), as in GGUF tokenizer.ggml.model.
	Model string
	// Pre names the pre-tokenizer for byte-level BPE (GGUF tokenizer.ggml.pre), e.g.
	// "default", "llama-bpe", "qwen2", "smollm". Empty means GPT-2's.
	Pre string
	// Tokens are the pieces by id. SentencePiece pieces use U+2581 for a space; byte
	// tokens are spelt <0xHH>.
	Tokens []string
	// Scores are the SentencePiece merge scores by id (nil for byte-level BPE).
	Scores []float32
	// Types are the token types by id (TypeNormal etc.); nil means all normal.
	Types []int32
	// Merges are the byte-level BPE merges in rank order, each "left right".
	Merges []string
	// Special token ids, -1 when absent.
	BOS, EOS, UNK, PAD, EOT int
	// EOG are further end-of-generation ids besides EOS and EOT (generation_config.json
	// may list several eos_token_ids, e.g. Llama 3.1's <|eom_id|>).
	EOG []int
	// AddBOS and AddEOS say whether Encode adds BOS/EOS when asked to add specials.
	AddBOS, AddEOS bool
	// AddSpacePrefix makes SentencePiece encoding prepend a space to the text (and
	// decoding drop one leading space).
	AddSpacePrefix bool
	// IgnoreMerges makes byte-level BPE emit a pre-token directly when it is a whole
	// vocabulary token (HF "ignore_merges"; llama.cpp sets it for the Llama-3
	// pre-tokenizer). New also turns it on for Pre "llama-bpe"/"llama3".
	IgnoreMerges bool
	// Normalize is the Unicode normalization form ("NFC", "NFD", "NFKC" or "NFKD")
	// applied to text before pre-tokenization, outside special tokens, as a
	// tokenizer.json normalizer asks; empty means none (GGUF vocabs: llama.cpp does not
	// normalize).
	Normalize string
}
