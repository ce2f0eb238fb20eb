package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/tokenizer"
)

func TestCorpusDeterministic(t *testing.T) {
	a, b := corpus(7, 50, [3]int{1, 1, 1}), corpus(7, 50, [3]int{1, 1, 1})
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different corpus")
	}
	if c := corpus(8, 50, [3]int{1, 1, 1}); slices.Equal(a, c) {
		t.Fatal("different seeds, same corpus")
	}
}

// TestBPEWithEdgerunTokenizer trains a small BPE, writes it as tokenizer.json and reads
// it back with edgerun's tokenizer: every story must round-trip, encode to merged
// tokens (far fewer than bytes) and start with BOS.
func TestBPEWithEdgerunTokenizer(t *testing.T) {
	texts := corpus(3, 300, [3]int{2, 1, 1})
	b := trainBPE(texts, 400)
	dir := t.TempDir()
	if err := b.write(dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenizer.FromTokenizerJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	if tok.NumTokens() != len(b.Vocab) || tok.BOS() != len(b.Vocab)-2 || tok.EOS() != len(b.Vocab)-1 {
		t.Fatalf("read back %d tokens, BOS %d, EOS %d; wrote %d", tok.NumTokens(), tok.BOS(), tok.EOS(), len(b.Vocab))
	}
	var bytes, toks int
	for _, s := range corpus(4, 50, [3]int{1, 1, 1}) {
		ids := tok.Encode(s, true)
		if ids[0] != tok.BOS() {
			t.Fatalf("no BOS: %v", ids[:3])
		}
		if got := tok.Decode(ids[1:]); got != s {
			t.Fatalf("round trip:\n%q\n%q", got, s)
		}
		bytes += len(s)
		toks += len(ids)
	}
	if toks*2 > bytes {
		t.Errorf("%d tokens for %d bytes: the merges are not used", toks, bytes)
	}
}

// Example_story shows one story of each register (the grammar in corpus.go).
func Example_story() {
	r := rand.New(rand.NewPCG(1, 2))
	for _, reg := range []Register{RegPlain, RegFairy, RegLog} {
		fmt.Println(story(r, reg))
	}
	// Output:
	// The happy mouse went to the beach. They played in the sun. The mouse sat by the hill. It was a nice day, and the mouse was happy. Then it was time to go home. Ella was tired.
	// The white rabbit lived deep in the enchanted forest, near the tower of a princess. So the rabbit travelled for three days and three nights, until the stars sang softly. So the rabbit travelled for three days and three nights, until the stars sang softly. With a crystal crown the spell was broken, and the whole kingdom rejoiced. And they all lived happily ever after.
	// Day 25. Wind north. Cold night. Passed the bridge at 11 bells. Passed the village at 1 bells. Anna on watch. Fog at dawn. End of entry.
}
