package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncodeDecode runs random text through a stories260K-like SentencePiece vocabulary
// and small byte-level vocabularies with every pre-tokenizer. Nothing may panic; valid
// UTF-8 must round-trip exactly (for SentencePiece, "▁" in the input comes back as a
// space: that is the escape SentencePiece uses); streaming must equal Decode.
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range []string{"", " ", "Once upon a time", "café 東京 🦙👍🏽", "a\n\tb  c ", "<s>x</s>", "<|user|>hi<|endoftext|>",
		"it's 12345 HELLO'S\r\n\r\n", "\xff\xfe bad", "▁▁x", "e\u0301\u00a0\u3000"} {
		f.Add(s)
	}
	spm, err := New(spmVocab())
	if err != nil {
		f.Fatal(err)
	}
	var bpes []*Tokenizer
	for _, pre := range []string{"gpt2", "llama3", "qwen2", "smollm"} {
		tk, err := New(bpeVocab(pre))
		if err != nil {
			f.Fatal(err)
		}
		bpes = append(bpes, tk)
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid := utf8.ValidString(s)
		for _, add := range []bool{false, true} {
			ids := spm.Encode(s, add)
			got := spm.Decode(ids)
			if valid && got != strings.ReplaceAll(s, spaceMark, " ") {
				t.Fatalf("spm: Decode(Encode(%q)) = %q", s, got)
			}
			if st := streamOf(spm, ids); st != got {
				t.Fatalf("spm: stream %q != Decode %q", st, got)
			}
			spm.Decode(spm.EncodeSpecial(s, add))
		}
		for _, tk := range bpes {
			ids := tk.Encode(s, true)
			got := tk.Decode(ids)
			if valid && got != s {
				t.Fatalf("bpe pre %d: Decode(Encode(%q)) = %q", tk.pre, s, got)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("bpe: Decode gave invalid UTF-8 %q", got)
			}
			if st := streamOf(tk, ids); st != got {
				t.Fatalf("bpe: stream %q != Decode %q", st, got)
			}
			if words := tk.pre.split(s, nil); strings.Join(words, "") != s {
				t.Fatalf("pre %d: split(%q) = %q", tk.pre, s, words)
			}
			tk.Decode(tk.EncodeSpecial(s, false))
		}
	})
}

// FuzzTokenizerJSON feeds junk to the tokenizer.json parser: it may fail, never panic,
// and what it accepts New must either accept or reject cleanly.
func FuzzTokenizerJSON(f *testing.F) {
	seeds := []string{
		`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"▁":0,"a":1,"▁a":2,"<0x41>":3},"merges":[["▁","a"]],"byte_fallback":true,"unk_token":"<unk>"},` +
			`"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},` +
			`"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[4],"tokens":["<s>"]}}},` +
			`"added_tokens":[{"id":4,"content":"<s>","special":true}]}`,
		`{"model":{"type":"BPE","vocab":{"1":0,"2":1},"merges":[]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","use_regex":true}]}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"ignore_merges":true},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"` +
			strings.ReplaceAll(strings.ReplaceAll(regexLlama3, `\`, `\\`), `"`, `\"`) + `"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","use_regex":false}]}}`,
		`{"model":{"type":"Unigram"}}`, `null`, `{"model":{"type":"BPE","vocab":{"a":-3}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := FromTokenizerJSON(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokenizer: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		tk, err := New(v)
		if err != nil {
			return
		}
		for _, s := range []string{"", "ab a", "Hello 123 <s>", "\xff"} {
			tk.Decode(tk.EncodeSpecial(s, true))
		}
	})
}
