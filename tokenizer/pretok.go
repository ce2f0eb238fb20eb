package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// preKind names a byte-level BPE pre-tokenizer. Go's regexp has no lookahead, so the
// regexes are hand-written matchers with the same leftmost-first alternation
// semantics; \s is Unicode White_Space, \p{L} letters, \p{N} numbers (Go's unicode
// tables). Invalid UTF-8 bytes count as [^\s\p{L}\p{N}].
type preKind int

const (
	// preGPT2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
	preGPT2 preKind = iota
	// preLlama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
	// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
	preLlama3
	// preQwen2: the Llama-3 regex with \p{N} (single digits) instead of \p{N}{1,3}.
	preQwen2
	// preSmolLM: every \p{N} isolated (HF Digits individual_digits), then the GPT-2
	// regex on the rest (llama.cpp's SMOLLM/STARCODER regex pair).
	preSmolLM
)

// preKinds maps GGUF tokenizer.ggml.pre values to pre-tokenizers. Only ids whose
// llama.cpp regexes are exactly one of the implemented ones are listed. Note that
// llama.cpp gives "default" (and a missing key) a different, older regex set; here
// they mean GPT-2's regex.
var preKinds = map[string]preKind{
	"": preGPT2, "default": preGPT2, "gpt2": preGPT2, "gpt-2": preGPT2, "phi-2": preGPT2,
	"mpt": preGPT2, "olmo": preGPT2, "jais": preGPT2,
	"llama-bpe": preLlama3, "llama3": preLlama3, "llama-v3": preLlama3, "falcon3": preLlama3,
	"falcon-h1": preLlama3, "pixtral": preLlama3, "dbrx": preLlama3, "smaug-bpe": preLlama3,
	"qwen2": preQwen2, "deepseek-r1-qwen": preQwen2, "stablelm2": preQwen2,
	"smollm": preSmolLM, "starcoder": preSmolLM, "refact": preSmolLM, "command-r": preSmolLM,
	"codeshell": preSmolLM, "exaone": preSmolLM, "minerva": preSmolLM,
}

// ignoreMergesPre are the pre-tokenizer ids for which llama.cpp sets ignore_merges.
var ignoreMergesPre = map[string]bool{
	"llama-bpe": true, "llama3": true, "llama-v3": true, "falcon3": true, "falcon-h1": true, "pixtral": true,
}

// split appends the pre-tokens of s to words.
func (p preKind) split(s string, words []string) []string {
	switch p {
	case preSmolLM:
		start := 0
		for i := 0; i < len(s); {
			r, n := decodeRune(s, i)
			if unicode.IsNumber(r) {
				if start < i {
					words = splitWith(s[start:i], matchGPT2, words)
				}
				words = append(words, s[i:i+n])
				start = i + n
			}
			i += n
		}
		if start < len(s) {
			words = splitWith(s[start:], matchGPT2, words)
		}
		return words
	case preLlama3:
		return splitWith(s, matchLlama3, words)
	case preQwen2:
		return splitWith(s, matchQwen2, words)
	}
	return splitWith(s, matchGPT2, words)
}

func splitWith(s string, match func(string, int) int, words []string) []string {
	for i := 0; i < len(s); {
		j := match(s, i)
		if j <= i { // cannot happen: every alternative set covers every character
			_, n := decodeRune(s, i)
			j = i + n
		}
		words = append(words, s[i:j])
		i = j
	}
	return words
}

// decodeRune decodes the rune at s[i]; an invalid byte decodes as utf8.RuneError
// (a symbol, so [^\s\p{L}\p{N}]) of width 1.
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isSpace(r rune) bool  { return unicode.IsSpace(r) }
func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isOther(r rune) bool  { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// run returns the end of the run of runes satisfying f starting at i (at most max
// runes when max > 0).
func run(s string, i int, f func(rune) bool, max int) int {
	n := 0
	for i < len(s) {
		r, w := decodeRune(s, i)
		if !f(r) {
			break
		}
		i += w
		n++
		if max > 0 && n == max {
			break
		}
	}
	return i
}

// contraction matches 's 't 're 've 'm 'll 'd at s[i] (an apostrophe) and returns the
// end, or -1. fold makes it case-insensitive (ASCII).
func contraction(s string, i int, fold bool) int {
	lower := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	if i+1 >= len(s) {
		return -1
	}
	switch lower(s[i+1]) {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if i+2 < len(s) && lower(s[i+2]) == 'e' {
			return i + 3
		}
	case 'l':
		if i+2 < len(s) && lower(s[i+2]) == 'l' {
			return i + 3
		}
	}
	return -1
}

// whitespace matches \s+(?!\S)|\s+ at s[i] (a white-space rune): the whole run when
// it ends the text or is one rune long, else the run minus its last rune.
func whitespace(s string, i int) int {
	end, last := i, i
	for end < len(s) {
		r, w := decodeRune(s, end)
		if !isSpace(r) {
			break
		}
		last = end
		end += w
	}
	if end == len(s) || last == i {
		return end
	}
	return last
}

// matchGPT2 returns the end of GPT-2's regex match at s[i].
func matchGPT2(s string, i int) int {
	r, n := decodeRune(s, i)
	if r == '\'' {
		if j := contraction(s, i, false); j > 0 {
			return j
		}
	}
	if r == ' ' && i+1 < len(s) {
		r2, _ := decodeRune(s, i+1)
		switch {
		case isLetter(r2):
			return run(s, i+1, isLetter, 0)
		case isNumber(r2):
			return run(s, i+1, isNumber, 0)
		case isOther(r2):
			return run(s, i+1, isOther, 0)
		}
	}
	switch {
	case isLetter(r):
		return run(s, i, isLetter, 0)
	case isNumber(r):
		return run(s, i, isNumber, 0)
	case isOther(r):
		return run(s, i, isOther, 0)
	}
	_ = n
	return whitespace(s, i)
}

func matchLlama3(s string, i int) int { return matchLlama3Like(s, i, 3) }
func matchQwen2(s string, i int) int  { return matchLlama3Like(s, i, 1) }

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// matchLlama3Like returns the end of the Llama-3 (maxDigits 3) or Qwen2 (maxDigits 1)
// regex match at s[i].
func matchLlama3Like(s string, i int, maxDigits int) int {
	r, n := decodeRune(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		if j := contraction(s, i, true); j > 0 {
			return j
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return run(s, i, isLetter, 0)
	}
	if !isCRLF(r) && !isNumber(r) && i+n < len(s) {
		if r2, _ := decodeRune(s, i+n); isLetter(r2) {
			return run(s, i+n, isLetter, 0)
		}
	}
	// \p{N}{1,maxDigits}
	if isNumber(r) {
		return run(s, i, isNumber, maxDigits)
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	start := -1
	if r == ' ' && i+1 < len(s) {
		if r2, _ := decodeRune(s, i+1); isOther(r2) {
			start = i + 1
		}
	}
	if start < 0 && isOther(r) {
		start = i
	}
	if start >= 0 {
		j := run(s, start, isOther, 0)
		return run(s, j, isCRLF, 0)
	}
	// \s*[\r\n]+ : up to the last \r or \n of the white-space run
	end, lastNL := i, -1
	for end < len(s) {
		r2, w := decodeRune(s, end)
		if !isSpace(r2) {
			break
		}
		end += w
		if isCRLF(r2) {
			lastNL = end
		}
	}
	if lastNL > 0 {
		return lastNL
	}
	// \s+(?!\S)|\s+
	return whitespace(s, i)
}
