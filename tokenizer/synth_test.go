package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// spmVocab is a small stories260K-like SentencePiece vocabulary: <unk> <s> </s>, the
// 256 byte tokens, then "▁", ASCII letters and a few merged pieces with scores.
func spmVocab() *Vocab {
	v := &Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(p string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, p)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, TypeUnknown)
	add("<s>", 0, TypeControl)
	add("</s>", 0, TypeControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, TypeByte)
	}
	pieces := []string{"▁t", "he", "▁a", "▁the", "in", "▁s", "er", "▁w", "on", "ce", "▁on", "▁once", "up", "▁up", "▁upon", "im", "▁tim", "▁time", "é", "▁caf", "▁café", "▁▁", "▁▁▁▁"}
	for i, p := range pieces {
		add(p, -float32(i), TypeNormal)
	}
	add("▁", -100, TypeNormal)
	for c := 'a'; c <= 'z'; c++ {
		add(string(c), -200-float32(c), TypeNormal)
	}
	for _, c := range "OAT.,!?'" {
		add(string(c), -300, TypeNormal)
	}
	return v
}

// bpeVocab is a small byte-level BPE vocabulary: the 256 mapped bytes, a few merges,
// a control token and a user-defined token.
func bpeVocab(pre string) *Vocab {
	v := &Vocab{Model: "gpt2", Pre: pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, string(byteToRune[b]))
	}
	v.Merges = []string{"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "Ġ w", "o r", "l d", "Ġw or", "Ġwor ld", "e r", "Ġ Ġ", "ĠĠ ĠĠ", "1 2", "12 3", "Ã ©", "a f", "c af", "caf Ã©"}
	for _, m := range v.Merges {
		l, r, _ := splitMerge(m)
		v.Tokens = append(v.Tokens, l+r)
	}
	v.Types = make([]int32, len(v.Tokens))
	for i := range v.Types {
		v.Types[i] = TypeNormal
	}
	v.Tokens = append(v.Tokens, "<|endoftext|>", "<|user|>")
	v.Types = append(v.Types, TypeControl, TypeUserDefined)
	v.EOS = len(v.Tokens) - 2
	return v
}

func mustNew(t testing.TB, v *Vocab) *Tokenizer {
	t.Helper()
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestPreTokenizers(t *testing.T) {
	cases := []struct {
		pre  preKind
		text string
		want []string
	}{
		{preGPT2, "Hello world's  test 123\n\n", []string{"Hello", " world", "'s", " ", " test", " 123", "\n\n"}},
		{preGPT2, "HELLO'S  x\ty", []string{"HELLO", "'", "S", " ", " x", "\t", "y"}},
		{preGPT2, "a  ", []string{"a", "  "}},
		{preGPT2, "  ,.!x", []string{" ", " ,.!", "x"}},
		{preLlama3, "Hello world's  test 12345\n\n  x", []string{"Hello", " world", "'s", " ", " test", " ", "123", "45", "\n\n", " ", " x"}},
		{preLlama3, "HELLO'S \tfoo ...\n\nbar\r\n", []string{"HELLO", "'S", " ", "\tfoo", " ...\n\n", "bar", "\r\n"}},
		{preLlama3, "东京 café", []string{"东京", " café"}},
		{preQwen2, "x 12345", []string{"x", " ", "1", "2", "3", "4", "5"}},
		{preSmolLM, "abc 2024!", []string{"abc", " ", "2", "0", "2", "4", "!"}},
		{preSmolLM, "v1.2 ok", []string{"v", "1", ".", "2", " ok"}},
		{preGPT2, "bad\xffbyte", []string{"bad", "\xff", "byte"}},
	}
	for _, c := range cases {
		got := c.pre.split(c.text, nil)
		if !slices.Equal(got, c.want) {
			t.Errorf("pre %d split(%q) = %q, want %q", c.pre, c.text, got, c.want)
		}
		if strings.Join(got, "") != c.text {
			t.Errorf("pre %d split(%q) loses text", c.pre, c.text)
		}
	}
}

func TestSyntheticSPM(t *testing.T) {
	tk := mustNew(t, spmVocab())
	id := func(p string) int { return tk.TokenID(p) }
	got := tk.Encode("Once upon a time", true)
	want := []int{1, id("▁"), id("O"), id("n"), id("ce"), id("▁upon"), id("▁a"), id("▁time")}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v (%q), want %v", got, piecesOf(tk, got), want)
	}
	// "Z" is not a piece: byte fallback <0x5A> (id 3+0x5A); "ß" (C3 9F) likewise.
	got = tk.Encode("Zß", false)
	want = []int{id("▁"), 3 + 0x5A, 3 + 0xC3, 3 + 0x9F}
	if !slices.Equal(got, want) {
		t.Errorf("Encode(Zß) = %v, want %v", got, want)
	}
	if s := tk.Decode(got); s != "Zß" {
		t.Errorf("Decode = %q", s)
	}
	// Control text is plain text for Encode, the token for EncodeSpecial.
	if got := tk.Encode("<s>", false); slices.Contains(got, 1) {
		t.Errorf("Encode(<s>) = %v", got)
	}
	if got := tk.EncodeSpecial("a<s>b", false); !slices.Equal(got, []int{id("▁a"), 1, id("▁"), id("b")}) {
		t.Errorf("EncodeSpecial(a<s>b) = %v (%q)", got, piecesOf(tk, got))
	}
	for _, s := range []string{"", " ", "  x  ", "café", "a\nb\tc", "🦙👍🏽", "the   time"} {
		if got := tk.Decode(tk.Encode(s, true)); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
	}
	// Out-of-range ids decode to nothing; Piece is "".
	if tk.Decode([]int{-5, 1 << 30}) != "" || tk.Piece(-1) != "" || tk.Piece(1<<30) != "" {
		t.Error("out-of-range ids should decode to nothing")
	}
}

// TestSPMByRank checks merge-by-rank for a SentencePiece vocabulary without scores.
func TestSPMByRank(t *testing.T) {
	v := spmVocab()
	v.Scores = nil
	v.Merges = []string{"▁ t", "h e", "▁t he", "▁ a"}
	tk := mustNew(t, v)
	got := tk.Encode("the a", false)
	want := []int{tk.TokenID("▁the"), tk.TokenID("▁a")}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v (%q), want %v", got, piecesOf(tk, got), want)
	}
}

func TestSyntheticBPE(t *testing.T) {
	tk := mustNew(t, bpeVocab("gpt2"))
	id := func(p string) int { return tk.TokenID(p) }
	got := tk.Encode("the world 1234 café", false)
	want := []int{id("t"), id("he"), id("Ġworld"), id("Ġ"), id("123"), id("4"), id("Ġ"), id("caf" + "Ã©")}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v (%q), want %v", got, piecesOf(tk, got), want)
	}
	eot, user := tk.TokenID("<|endoftext|>"), tk.TokenID("<|user|>")
	got = tk.Encode("<|user|>hi<|endoftext|>", false)
	if got[0] != user || slices.Contains(got, eot) {
		t.Errorf("Encode = %v: user-defined must be atomic, control must be text", got)
	}
	got = tk.EncodeSpecial("<|user|>hi<|endoftext|>", false)
	if got[0] != user || got[len(got)-1] != eot {
		t.Errorf("EncodeSpecial = %v", got)
	}
	if s := tk.Decode(got); s != "<|user|>hi" {
		t.Errorf("Decode = %q (control tokens print nothing, user-defined their text)", s)
	}
	if !tk.IsEOG(eot) || tk.IsEOG(user) {
		t.Error("IsEOG")
	}
}

// TestStreamingByteLevel splits a 4-byte character over byte-level tokens.
func TestStreamingByteLevel(t *testing.T) {
	tk := mustNew(t, bpeVocab("gpt2"))
	ids := tk.Encode("a🦙b€", false)
	d := tk.NewDecoder()
	var outs []string
	for _, id := range ids {
		outs = append(outs, d.Push(id))
	}
	outs = append(outs, d.Flush())
	want := []string{"a", "", "", "", "🦙", "b", "", "", "€", ""}
	if !slices.Equal(outs, want) {
		t.Errorf("pushes = %q, want %q", outs, want)
	}
	// An incomplete character at the end is flushed as U+FFFD per byte, like Decode.
	partial := ids[:3] // "a" + two bytes of the emoji
	if got, want := streamOf(tk, partial), tk.Decode(partial); got != want || want != "a\uFFFD\uFFFD" {
		t.Errorf("stream %q, Decode %q", got, want)
	}
	// A broken sequence followed by ASCII is replaced as soon as it is known broken.
	broken := append(slices.Clone(ids[1:3]), tk.TokenID("x"))
	d = tk.NewDecoder()
	d.Push(broken[0])
	d.Push(broken[1])
	if got := d.Push(broken[2]); got != "\uFFFD\uFFFDx" {
		t.Errorf("got %q", got)
	}
}

func streamOf(tk *Tokenizer, ids []int) string {
	d := tk.NewDecoder()
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(d.Push(id))
	}
	sb.WriteString(d.Flush())
	return sb.String()
}

func piecesOf(tk *Tokenizer, ids []int) []string {
	var out []string
	for _, id := range ids {
		out = append(out, tk.Piece(id))
	}
	return out
}

func TestNewErrors(t *testing.T) {
	bad := []struct {
		name string
		mod  func(v *Vocab)
	}{
		{"model", func(v *Vocab) { v.Model = "rwkv" }},
		{"empty", func(v *Vocab) { v.Tokens, v.Scores, v.Types = nil, nil, nil }},
		{"scores", func(v *Vocab) { v.Scores = v.Scores[:3] }},
		{"types", func(v *Vocab) { v.Types = v.Types[:3] }},
		{"bos", func(v *Vocab) { v.BOS = len(v.Tokens) }},
		{"eot", func(v *Vocab) { v.EOT = -2 }},
		{"addeos", func(v *Vocab) { v.AddEOS, v.EOS = true, -1 }},
		{"merge", func(v *Vocab) { v.Scores, v.Merges = nil, []string{"abc"} }},
	}
	for _, b := range bad {
		v := spmVocab()
		b.mod(v)
		if _, err := New(v); err == nil || !strings.HasPrefix(err.Error(), "tokenizer: ") {
			t.Errorf("%s: err = %v", b.name, err)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("nil vocab accepted")
	}
	v := bpeVocab("gpt4")
	if _, err := New(v); err == nil || !strings.Contains(err.Error(), "gpt4") {
		t.Errorf("unknown pre: %v", err)
	}
	v = &Vocab{Model: "bert", Tokens: []string{"a"}}
	if _, err := New(v); err == nil || !strings.Contains(err.Error(), "bert") {
		t.Errorf("unknown model: %v", err)
	}
	// Nil Types: <0xHH> pieces act as byte tokens.
	v = spmVocab()
	v.Types = nil
	tk := mustNew(t, v)
	if got := tk.Decode(tk.Encode("Zß", true)); got != "Zß" {
		t.Errorf("nil types round trip = %q", got)
	}
}

func TestFromTokenizerJSON(t *testing.T) {
	// A byte-level tokenizer with array-form merges and an added token beyond the vocab.
	js := `{"added_tokens":[{"id":5,"content":"<|end|>","special":true},{"id":6,"content":"<tool>","special":false}],
	"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
	"decoder":{"type":"ByteLevel"},
	"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"Ġab":4},"merges":[["a","b"],["Ġ","ab"]]}}`
	v, err := FromTokenizerJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if v.Model != "gpt2" || v.Pre != "gpt2" || len(v.Tokens) != 7 || v.Types[5] != TypeControl || v.Types[6] != TypeUserDefined || v.EOT != 5 {
		t.Fatalf("vocab = %+v", v)
	}
	tk := mustNew(t, v)
	if got := tk.Encode("ab ab<tool>", false); !slices.Equal(got, []int{2, 4, 6}) {
		t.Errorf("Encode = %v", got)
	}
	// Junk must fail cleanly.
	for _, junk := range []string{"", "{", "[]", `{"model":{"type":"Unigram"}}`, `{"model":{"type":"BPE","vocab":{"a":-1}}}`,
		`{"model":{"type":"BPE","vocab":{"a":99999999}}}`, `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`} {
		if _, err := FromTokenizerJSON([]byte(junk)); err == nil {
			t.Errorf("%q accepted", junk)
		}
	}
}

func TestDecodeInvalidUTF8(t *testing.T) {
	tk := mustNew(t, spmVocab())
	ids := []int{3 + 0xE2, 3 + 0x96, 3 + 'A'}
	if got := tk.Decode(ids); got != "\uFFFD\uFFFDA" || !utf8.ValidString(got) {
		t.Errorf("Decode = %q", got)
	}
}
