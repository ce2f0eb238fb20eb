// Package vectors reads ../shared/models/onnx-int4-ops/test_vectors.json, the
// MatMulNBits conformance vectors, for the onnx tests.
package vectors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Array is one input: dtype, shape and values.
type Array struct {
	Dtype string    `json:"dtype"`
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

// Case is one test: the model file, its named inputs and the expected output.
type Case struct {
	Name          string
	Model         string // path of the .onnx file
	Inputs        map[string]Array
	Expected      []float64
	ExpectedShape []int64
}

// Load reads the vectors in dir (the onnx-int4-ops folder), sorted by name.
func Load(dir string) ([]Case, error) {
	b, err := os.ReadFile(filepath.Join(dir, "test_vectors.json"))
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("vectors: %s: %w", dir, err)
	}
	var out []Case
	for name, msg := range raw {
		if name[0] == '_' {
			continue
		}
		var c struct {
			Inputs   map[string]Array `json:"inputs"`
			Expected []float64        `json:"expected_output"`
			Shape    []int64          `json:"expected_shape"`
		}
		if err := json.Unmarshal(msg, &c); err != nil {
			return nil, fmt.Errorf("vectors: %s: case %s: %w", dir, name, err)
		}
		out = append(out, Case{Name: name, Model: filepath.Join(dir, name+".onnx"), Inputs: c.Inputs, Expected: c.Expected, ExpectedShape: c.Shape})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
