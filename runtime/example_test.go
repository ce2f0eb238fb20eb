package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/runtime"
)

// storiesPath returns the path of a stories260K fixture file (../shared/models, found
// by testmodels as in every test). Examples cannot skip: without the fixtures they fail.
func storiesPath(name string) string {
	var dir string
	func() {
		defer func() { _ = recover() }() // testmodels skips by panicking in fixtureTB
		dir = testmodels.Dir(fixtureTB{})
	}()
	return filepath.Join(dir, "stories260K", name)
}

// fixtureTB lets examples, which have no *testing.T, use testmodels.
type fixtureTB struct{ testing.TB }

func (fixtureTB) Helper()                   {}
func (fixtureTB) Skip(args ...any)          { panic(fmt.Sprint(args...)) }
func (fixtureTB) Skipf(f string, a ...any)  { panic(fmt.Sprintf(f, a...)) }
func (fixtureTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (fixtureTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// Load a model, start a session and generate text greedily (temperature 0, the zero
// SamplerConfig), so the output is deterministic.
func ExampleOpen() {
	engine, err := runtime.Open(storiesPath("stories260K.gguf"), runtime.WithThreads(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close() // unmaps the weights

	session := engine.NewSession()
	res, err := session.Generate(context.Background(), "Once upon a time", runtime.GenerateOptions{MaxTokens: 60}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d prompt tokens, %d generated (%s)\n", len(res.PromptTokens), len(res.Tokens), res.StopReason)
	fmt.Printf("Once upon a time%s\n", res.Text)
	// Output:
	// 5 prompt tokens, 60 generated (length)
	// Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.
	// Lily
}

// Stream the text as it is generated, and stop early from the callback (or by
// cancelling the context).
func ExampleSession_Generate() {
	engine, err := runtime.Open(storiesPath("stories260K.bin"),
		runtime.WithTokenizer(storiesPath("tok512.bin")), runtime.WithContext(256))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close()

	stop := errors.New("enough")
	var sb strings.Builder
	_, err = engine.NewSession().Generate(context.Background(), "Once upon a time", runtime.GenerateOptions{},
		func(id int, text string) error {
			sb.WriteString(text) // text may be "" when a character spans several tokens
			if strings.HasSuffix(text, ".") {
				return stop // end of the first sentence
			}
			return nil
		})
	fmt.Printf("%q (%v)\n", sb.String(), err)
	// Output:
	// ", there was a little girl named Lily." (enough)
}

// exampleAdapter writes a LoRA adapter for stories260K (a PEFT directory, as PEFT's
// save_pretrained writes it) into a temporary directory.
func exampleAdapter(e *runtime.Engine) (dir string, cleanup func()) {
	dir, err := os.MkdirTemp("", "edgerun-example-")
	if err != nil {
		panic(err)
	}
	if err := testadapter.WritePEFT(e.Model.Config, dir, 2026); err != nil {
		panic(err)
	}
	return dir, func() { os.RemoveAll(dir) }
}

// Load a LoRA adapter once, switch it on in one session while another session runs
// the base model (hot-swap: no reload, other sessions untouched), then merge it into
// the weights and unmerge it.
func ExampleEngine_LoadAdapter() {
	engine, err := runtime.Open(storiesPath("stories260K.gguf"), runtime.WithThreads(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close()
	adapterDir, cleanup := exampleAdapter(engine)
	defer cleanup()

	if _, err := engine.LoadAdapter("story", adapterDir); err != nil {
		fmt.Println(err)
		return
	}
	generate := func(s *runtime.Session) []int {
		s.Reset()
		res, err := s.Generate(context.Background(), "Once upon a time", runtime.GenerateOptions{MaxTokens: 20}, nil)
		if err != nil {
			panic(err)
		}
		return res.Tokens
	}
	base, tuned := engine.NewSession(), engine.NewSession()
	defer base.Close()
	defer tuned.Close()
	if err := tuned.SetAdapters([]runtime.AdapterScale{{Name: "story", Scale: 1}}); err != nil {
		fmt.Println(err)
		return
	}
	baseTokens, tunedTokens := generate(base), generate(tuned)
	fmt.Println("the adapter changes the output:", !slices.Equal(baseTokens, tunedTokens))

	tuned.SetAdapters(nil) // switch it off again
	fmt.Println("switched off, the session runs the base model:", slices.Equal(generate(tuned), baseTokens))

	// Merge: every session now runs the adapted weights at the base model's speed.
	if _, err := engine.Merge([]runtime.AdapterScale{{Name: "story", Scale: 1}}, runtime.MergeOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("merged equals unmerged:", slices.Equal(generate(base), tunedTokens))
	engine.Unmerge()
	fmt.Println("unmerged equals the base:", slices.Equal(generate(base), baseTokens))
	// Output:
	// the adapter changes the output: true
	// switched off, the session runs the base model: true
	// merged equals unmerged: true
	// unmerged equals the base: true
}

// Check up front whether a model fits: Open does the same and refuses, before
// mapping the file, a model whose weights plus KV cache exceed the available memory.
func ExampleEstimateMemory() {
	est, err := runtime.EstimateMemory(storiesPath("stories260K.bin"), runtime.WithContext(256))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("context %d: KV cache %d bytes, weights %d bytes\n", est.Context, est.KVCache, est.Weights)
	// Output:
	// context 256: KV cache 327680 bytes, weights 1056540 bytes
}
