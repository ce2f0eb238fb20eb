package tokenizer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/tokenizer"
)

// fromCheckpoint opens a model file with the loader and builds its tokenizer.
func fromCheckpoint(t testing.TB, rel string, opts ...loader.Option) *tokenizer.Tokenizer {
	t.Helper()
	c, err := loader.Open(filepath.Join(testmodels.Dir(t), rel), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Vocab == nil {
		t.Fatalf("%s: no vocabulary", rel)
	}
	tk, err := tokenizer.New(c.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// fromJSON builds a tokenizer from a tokenizer.json fixture.
func fromJSON(t testing.TB, rel string) *tokenizer.Tokenizer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testmodels.Dir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenizer.FromTokenizerJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func corpus(t testing.TB) []string {
	var c []string
	readJSON(t, "testdata/corpus.json", &c)
	return c
}

type goldenRun struct {
	Prompt          string `json:"prompt"`
	PromptIDs       []int  `json:"prompt_ids"`
	ContinuationIDs []int  `json:"continuation_ids"`
	Text            string `json:"text"`
}

// TestStories260K checks the prompt encoding and the decoded greedy texts of
// stories260K/golden-greedy.json (llama2.c run.c and llama.cpp agree on them) with the
// GGUF vocabulary, llama2.c's tok512.bin and the HF tokenizer.json (merge ranks).
func TestStories260K(t *testing.T) {
	dir := testmodels.Dir(t)
	var golden map[string]json.RawMessage
	readJSON(t, filepath.Join(dir, "stories260K", "golden-greedy.json"), &golden)
	var once, bosOnly goldenRun
	if err := json.Unmarshal(golden["once_upon_a_time"], &once); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(golden["bos_only"], &bosOnly); err != nil {
		t.Fatal(err)
	}
	toks := map[string]*tokenizer.Tokenizer{
		"gguf":    fromCheckpoint(t, "stories260K/stories260K.gguf"),
		"llama2c": fromCheckpoint(t, "stories260K/stories260K.bin", loader.WithTokenizer(filepath.Join(dir, "stories260K", "tok512.bin"))),
		"hf-json": fromJSON(t, "stories260K/hf/tokenizer.json"),
	}
	for name, tk := range toks {
		t.Run(name, func(t *testing.T) {
			if got := tk.Encode(once.Prompt, true); !slices.Equal(got, once.PromptIDs) {
				t.Errorf("Encode(%q) = %v, want %v", once.Prompt, got, once.PromptIDs)
			}
			if got := tk.Encode(bosOnly.Prompt, true); !slices.Equal(got, bosOnly.PromptIDs) {
				t.Errorf("Encode(%q) = %v, want %v", bosOnly.Prompt, got, bosOnly.PromptIDs)
			}
			for _, run := range []goldenRun{once, bosOnly} {
				all := append(slices.Clone(run.PromptIDs), run.ContinuationIDs...)
				if got := tk.Decode(all); got != run.Text {
					t.Errorf("Decode = %q, want %q", got, run.Text)
				}
				if got := streamDecode(tk, all); got != run.Text {
					t.Errorf("streaming decode = %q, want %q", got, run.Text)
				}
			}
			if tk.BOS() != 1 || tk.EOS() != 2 || !tk.IsEOG(2) || tk.IsEOG(1) || tk.NumTokens() != 512 {
				t.Errorf("BOS %d EOS %d IsEOG(2) %v NumTokens %d", tk.BOS(), tk.EOS(), tk.IsEOG(2), tk.NumTokens())
			}
			roundTrip(t, tk, corpus(t))
		})
	}
}

// TestLlamaCppParity compares the encodings of testdata/corpus.json with the ids
// llama.cpp itself produced for the same GGUF files (testdata/llamacpp_golden.json,
// written once with node-llama-cpp's prebuilt llama.cpp).
func TestLlamaCppParity(t *testing.T) {
	var golden map[string]json.RawMessage
	readJSON(t, "testdata/llamacpp_golden.json", &golden)
	texts := corpus(t)
	for _, rel := range []string{"llama2-tiny-random/llama-2-tiny-random.gguf", "stories260K/stories260K.gguf"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			var want struct{ Plain, Special [][]int }
			if err := json.Unmarshal(golden[filepath.Base(rel)], &want); err != nil {
				t.Fatal(err)
			}
			tk := fromCheckpoint(t, rel)
			for i, s := range texts {
				if got := tk.Encode(s, false); !slices.Equal(got, want.Plain[i]) {
					t.Errorf("Encode(%q) = %v, llama.cpp %v", s, got, want.Plain[i])
				}
				if got := tk.EncodeSpecial(s, false); !slices.Equal(got, want.Special[i]) {
					t.Errorf("EncodeSpecial(%q) = %v, llama.cpp %v", s, got, want.Special[i])
				}
			}
		})
	}
}

// TestLlama2Vocab spot-checks the full 32,000-token Llama-2 SentencePiece vocabulary.
func TestLlama2Vocab(t *testing.T) {
	tk := fromCheckpoint(t, "llama2-tiny-random/llama-2-tiny-random.gguf")
	if tk.NumTokens() != 32000 {
		t.Fatalf("NumTokens = %d", tk.NumTokens())
	}
	// The pieces behind the ids asserted below.
	for id, piece := range map[int]string{15043: "▁Hello", 3186: "▁world", 29871: "▁", 13: "<0x0A>", 1: "<s>", 2: "</s>", 0: "<unk>"} {
		if got := tk.Piece(id); got != piece {
			t.Errorf("Piece(%d) = %q, want %q", id, got, piece)
		}
	}
	cases := []struct {
		text       string
		addSpecial bool
		want       []int
	}{
		{"Hello world", false, []int{15043, 3186}},
		{"Hello world", true, []int{1, 15043, 3186}},
		{"\n", false, []int{29871, 13}}, // "▁" then the byte token <0x0A>: no "▁\n" piece
		{"", true, []int{1}},
		{"", false, nil},
	}
	for _, c := range cases {
		got := tk.Encode(c.text, c.addSpecial)
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("Encode(%q, %v) = %v, want %v", c.text, c.addSpecial, got, c.want)
		}
	}
	// "<s>" is text for Encode and the BOS id for EncodeSpecial.
	if got := tk.EncodeSpecial("<s>Hi", false); got[0] != 1 {
		t.Errorf("EncodeSpecial(<s>Hi) = %v", got)
	}
	if got := tk.Encode("<s>Hi", false); slices.Contains(got, 1) {
		t.Errorf("Encode(<s>Hi) = %v contains BOS", got)
	}
	roundTrip(t, tk, corpus(t))
	// An emoji is four byte tokens; the streaming decoder emits it once, whole.
	ids := tk.Encode("🦙", false)
	d := tk.NewDecoder()
	var parts []string
	for _, id := range ids {
		if s := d.Push(id); s != "" {
			parts = append(parts, s)
		}
	}
	if rest := d.Flush(); rest != "" {
		parts = append(parts, rest)
	}
	if len(ids) < 4 || !slices.Equal(parts, []string{"🦙"}) {
		t.Errorf("ids %v streamed as %q", ids, parts)
	}
}

// TestSmolLM checks the byte-level BPE of SmolLM's tokenizer.json.
func TestSmolLM(t *testing.T) {
	tk := fromJSON(t, "peft-smollm135m-lora/tokenizer.json")
	if tk.NumTokens() != 49152 {
		t.Fatalf("NumTokens = %d", tk.NumTokens())
	}
	id := func(p string) int {
		i := tk.TokenID(p)
		if i < 0 {
			t.Fatalf("piece %q not in the vocabulary", p)
		}
		return i
	}
	// Whole words that are vocabulary tokens come out whole (their merges exist);
	// the SmolLM pre-tokenizer isolates every digit and keeps the space apart from it.
	cases := []struct {
		text string
		want []int
	}{
		{"Hello world", []int{id("Hello"), id("Ġworld")}},
		{"Hello\nworld", []int{id("Hello"), id("Ċ"), id("world")}},
		{"2024", []int{id("2"), id("0"), id("2"), id("4")}},
		{"year 2024!", []int{id("year"), id("Ġ"), id("2"), id("0"), id("2"), id("4"), id("!")}},
		{"it's", []int{id("it"), id("'s")}},
	}
	for _, c := range cases {
		if got := tk.Encode(c.text, true); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v (%q), want %v", c.text, got, pieces(tk, got), c.want)
		}
	}
	// Special tokens: atomic only for EncodeSpecial; never rendered by Decode.
	chat := "<|im_start|>user\nhi<|im_end|>"
	got := tk.EncodeSpecial(chat, false)
	if len(got) < 3 || got[0] != 1 || got[len(got)-1] != 2 {
		t.Errorf("EncodeSpecial(%q) = %v", chat, got)
	}
	if tk.Decode(got) != "user\nhi" {
		t.Errorf("Decode = %q", tk.Decode(got))
	}
	if plain := tk.Encode(chat, false); slices.Contains(plain, 1) || tk.Decode(plain) != chat {
		t.Errorf("Encode(%q) = %v", chat, plain)
	}
	if !tk.IsEOG(tk.TokenID("<|im_end|>")) || !tk.IsEOG(tk.TokenID("<|endoftext|>")) {
		t.Error("<|im_end|> and <|endoftext|> should end generation")
	}
	roundTrip(t, tk, corpus(t))
}

func pieces(tk *tokenizer.Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tk.Piece(id)
	}
	return out
}

// roundTrip checks Decode(Encode(s)) == s, with and without specials, and that the
// streaming decoder agrees with Decode.
func roundTrip(t *testing.T, tk *tokenizer.Tokenizer, texts []string) {
	t.Helper()
	for _, s := range texts {
		for _, add := range []bool{false, true} {
			ids := tk.Encode(s, add)
			if got := tk.Decode(ids); got != s {
				t.Errorf("Decode(Encode(%q, %v)) = %q (ids %v)", s, add, got, ids)
			}
			if got := streamDecode(tk, ids); got != s {
				t.Errorf("stream Decode(Encode(%q, %v)) = %q", s, add, got)
			}
		}
	}
}

// streamDecode decodes ids through a Decoder, checking every Push output is valid UTF-8.
func streamDecode(tk *tokenizer.Tokenizer, ids []int) string {
	d := tk.NewDecoder()
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(d.Push(id))
	}
	sb.WriteString(d.Flush())
	return sb.String()
}
