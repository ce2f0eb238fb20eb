package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs `edgerun demo` on the committed demo model and checks that the two
// adapters change the register the way they were trained to: adapter A writes a fairy
// tale, adapter B (hot-swapped, then merged) a ship's log, and neither borrows the
// other's words.
func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	if err := cmdDemo([]string{"-m", filepath.Join("..", "..", "models", "demo"), "-t", "1"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	text := out.String()
	t.Log("\n" + text)
	sections := map[string]string{}
	var cur string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "adapter A"):
			cur = "A"
		case strings.HasPrefix(line, "adapter B merged"):
			cur = "merged"
		case strings.HasPrefix(line, "adapter B"):
			cur = "B"
		case strings.HasPrefix(line, "base model"), strings.HasPrefix(line, "bench:"):
			cur = ""
		case cur != "":
			sections[cur] += line
		}
	}
	fairy := []string{"upon a time", "kingdom", "castle", "happily ever after", "far, far away", "seven hills", "enchanted", "witch", "wise old owl"}
	logw := []string{"End of entry", "Wind ", "knots", "Crew of", "on watch", "bells", "Cargo"}
	has := func(s string, words []string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		sec       string
		want, not []string
	}{{"A", fairy, logw}, {"B", logw, fairy}, {"merged", logw, fairy}} {
		s := sections[c.sec]
		if s == "" {
			t.Fatalf("no %s section in the output", c.sec)
		}
		if !has(s, c.want) || has(s, c.not) {
			t.Errorf("section %s is not in its register: %q", c.sec, s)
		}
	}
	if !strings.Contains(text, "bench: ") || !strings.Contains(text, "tokens/s") || !strings.Contains(text, "peak RSS") || !strings.Contains(text, "adapter switch") {
		t.Errorf("no bench line in the output")
	}
}
