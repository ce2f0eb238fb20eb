package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// byteLevel maps bytes to the printable runes GPT-2's byte-level BPE uses as symbols
// (printable Latin-1 bytes map to themselves, the others to U+0100 upwards).
func byteLevel() [256]rune {
	var m [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}

// preTokenize splits ASCII text the way GPT-2's pre-tokenizer regex does for text
// with single spaces: an optional leading space followed by a run of letters, of
// digits, or of other non-space characters.
func preTokenize(s string) []string {
	class := func(c byte) int {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			return 1
		case c >= '0' && c <= '9':
			return 2
		case c == ' ' || c == '\n' || c == '\t':
			return 0
		}
		return 3
	}
	var out []string
	i := 0
	for i < len(s) {
		start := i
		if s[i] == ' ' && i+1 < len(s) && class(s[i+1]) != 0 {
			i++
		}
		c := class(s[i])
		for i < len(s) && class(s[i]) == c {
			i++
			if c == 0 && i+1 < len(s) && class(s[i]) == 0 && class(s[i+1]) != 0 {
				break
			}
		}
		out = append(out, s[start:i])
	}
	return out
}

// bpe is a trained byte-level BPE: the merges in rank order and the vocabulary.
type bpe struct {
	Merges [][2]string
	Vocab  []string // by id: 256 byte symbols, then one per merge, then <s>, </s>
}

// trainBPE learns up to vocabSize-2 symbols (bytes + merges) from texts; ties between
// equally frequent pairs go to the lexicographically smallest, so it is deterministic.
func trainBPE(texts []string, vocabSize int) *bpe {
	bl := byteLevel()
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range preTokenize(t) {
			counts[w]++
		}
	}
	type word struct {
		syms []string
		n    int
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]word, 0, len(keys))
	for _, k := range keys {
		var syms []string
		for i := 0; i < len(k); i++ {
			syms = append(syms, string(bl[k[i]]))
		}
		words = append(words, word{syms, counts[k]})
	}
	b := &bpe{}
	for i := 0; i < 256; i++ {
		b.Vocab = append(b.Vocab, string(bl[i]))
	}
	for len(b.Vocab) < vocabSize-2 {
		pairs := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.n
			}
		}
		var best [2]string
		bestN := 1
		for p, n := range pairs {
			if n > bestN || (n == bestN && bestN > 1 && (p[0]+" "+p[1]) < (best[0]+" "+best[1])) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			break
		}
		merged := best[0] + best[1]
		b.Merges = append(b.Merges, best)
		b.Vocab = append(b.Vocab, merged)
		for wi := range words {
			s := words[wi].syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, merged)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			words[wi].syms = out
		}
	}
	b.Vocab = append(b.Vocab, "<s>", "</s>")
	return b
}

// write stores the tokenizer as tokenizer.json (GPT-2 recipe: ByteLevel pre-tokenizer
// and decoder, BPE model) plus tokenizer_config.json (BOS added, </s> ends generation).
func (b *bpe) write(dir string) error {
	vocab := map[string]int{}
	for i, p := range b.Vocab[:len(b.Vocab)-2] {
		vocab[p] = i
	}
	merges := make([]string, len(b.Merges))
	for i, m := range b.Merges {
		merges[i] = m[0] + " " + m[1]
	}
	bos, eos := len(b.Vocab)-2, len(b.Vocab)-1
	tj := map[string]any{
		"version":    "1.0",
		"truncation": nil, "padding": nil,
		"added_tokens": []map[string]any{
			{"id": bos, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			{"id": eos, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
		},
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{bos}, "tokens": []string{"<s>"}}},
		},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges},
	}
	data, err := json.MarshalIndent(tj, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	tc := map[string]any{"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>",
		"model_max_length": 128, "tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false}
	data, _ = json.MarshalIndent(tc, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	gc := map[string]any{"bos_token_id": bos, "eos_token_id": eos, "do_sample": true, "temperature": 0.7, "top_k": 40, "top_p": 0.9}
	data, _ = json.MarshalIndent(gc, "", "  ")
	return os.WriteFile(filepath.Join(dir, "generation_config.json"), append(data, '\n'), 0o644)
}

func (b *bpe) String() string {
	return fmt.Sprintf("BPE: %d tokens (%d merges); longest: %s", len(b.Vocab), len(b.Merges), strings.TrimSpace(b.Vocab[len(b.Vocab)-3]))
}
