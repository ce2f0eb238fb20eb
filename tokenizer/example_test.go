package tokenizer_test

import (
	"fmt"

	"github.com/edgerun/edgerun/tokenizer"
)

// A tokenizer built from a tiny byte-level tokenizer.json: encode, decode, stream.
func Example() {
	js := `{"added_tokens":[{"id":6,"content":"<|end|>","special":true}],
	  "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
	  "model":{"type":"BPE","vocab":{"h":0,"i":1,"hi":2,"Ġ":3,"Ġhi":4,"!":5},"merges":["h i","Ġ hi"]}}`
	v, err := tokenizer.FromTokenizerJSON([]byte(js))
	if err != nil {
		panic(err)
	}
	tk, err := tokenizer.New(v)
	if err != nil {
		panic(err)
	}
	ids := tk.EncodeSpecial("hi hi!<|end|>", false)
	fmt.Println(ids, tk.IsEOG(ids[len(ids)-1]))
	fmt.Printf("%q\n", tk.Decode(ids))
	d := tk.NewDecoder()
	for _, id := range ids {
		fmt.Printf("%q ", d.Push(id))
	}
	fmt.Printf("%q\n", d.Flush())
	// Output:
	// [2 4 5 6] true
	// "hi hi!"
	// "hi" " hi" "!" "" ""
}
