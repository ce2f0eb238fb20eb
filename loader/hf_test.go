package loader

import (
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

func TestStories260KHF(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("%+v %d tensors", c.Config, len(c.Tensors))
}
