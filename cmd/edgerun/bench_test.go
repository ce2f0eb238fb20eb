package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
)

// TestBenchQuickStories260K is the CI smoke of `edgerun bench --quick`.
func TestBenchQuickStories260K(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	svg := filepath.Join(t.TempDir(), "bench.svg")
	out, errOut, code := runCLI(t, "bench", "-m", path, "--quick", "-t", "1", "--pg", "8,4", "-o", "json", "--bandwidth-mib", "8", "--svg", svg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet bench wrote to it: %q", errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, out)
	}
	var tests []string
	for _, r := range rows {
		tests = append(tests, r["test"].(string))
		if r["model_filename"] != path || r["n_threads"] != 1.0 || r["avg_ts"].(float64) <= 0 {
			t.Errorf("row %v", r)
		}
	}
	if strings.Join(tests, " ") != "pp16 tg16 pp8+tg4" {
		t.Errorf("tests %v, want pp16 tg16 pp8+tg4", tests)
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.HasPrefix(string(b), "<svg") {
		t.Errorf("svg: %v %.40q", err, b)
	}

	out, errOut, code = runCLI(t, "bench", "-m", path, "--quick", "-t", "1", "-p", "0", "-n", "4", "-r", "1", "--bandwidth-mib", "-1")
	if code != 0 || !strings.HasPrefix(out, "| model") || !strings.Contains(out, " tg4 |") || strings.Contains(out, "pp16") {
		t.Errorf("-p 0 -n 4: exit %d\n%s%s", code, out, errOut)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench"}, 2, "-m MODEL is required"},
		{[]string{"bench", "-m", "x.gguf", "--backend", "ort"}, 1, "built without the ONNX Runtime backend"},
		{[]string{"bench", "-m", "x.gguf", "-o", "xml"}, 2, "want one of"},
		{[]string{"bench", "-m", "x.gguf", "-t", "two"}, 2, "not a count"},
		{[]string{"bench", "-m", "x.gguf", "--pg", "512"}, 2, "pairs"},
		{[]string{"bench", "-m", filepath.Join(t.TempDir(), "none.gguf"), "--quick", "--bandwidth-mib", "-1"}, 1, "none.gguf"},
	} {
		_, errOut, code := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// TestBenchAdaptersQuickStories260K: `edgerun bench --quick --adapter ...` adds one
// configuration per adapter beside the base, with the adapter figures in every format.
func TestBenchAdaptersQuickStories260K(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	ck, err := loader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ck.Config
	ck.Close()
	dir := filepath.Join(t.TempDir(), "ad")
	if err := testadapter.WritePEFT(cfg, dir, 2026); err != nil {
		t.Fatal(err)
	}
	args := []string{"bench", "-m", path, "--quick", "-t", "1", "-r", "1", "--bandwidth-mib", "-1", "--adapter", dir, "--adapter", dir + ":0.5"}
	wantAdapters := []string{"", dir, dir}
	wantScales := []float64{0, 1, 0.5}
	fields := []string{"adapter", "adapter_scale", "adapter_switch_p50_ns", "adapter_switch_p99_ns", "merge_ms", "live_avg_ts", "merged_avg_ts", "live_vs_merged"}

	out, errOut, code := runCLI(t, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, out)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want base and two adapters × pp16, tg16", len(rows))
	}
	for i, r := range rows {
		cfgIdx := i / 2
		for _, k := range fields {
			if _, ok := r[k]; !ok {
				t.Errorf("row %d lacks %q", i, k)
			}
		}
		if r["config"] != float64(cfgIdx) || r["adapter"] != wantAdapters[cfgIdx] || r["adapter_scale"] != wantScales[cfgIdx] {
			t.Errorf("row %d: config %v adapter %v scale %v", i, r["config"], r["adapter"], r["adapter_scale"])
		}
		if r["ratio"].(float64) <= 0 {
			t.Errorf("row %d: ratio %v", i, r["ratio"])
		}
		if cfgIdx == 0 {
			continue
		}
		if p50, p99 := r["adapter_switch_p50_ns"].(float64), r["adapter_switch_p99_ns"].(float64); !(0 < p50 && p50 <= p99) || r["merge_ms"].(float64) <= 0 {
			t.Errorf("row %d: switch p50 %v p99 %v merge %v ms", i, p50, p99, r["merge_ms"])
		}
		if r["test"] == "tg16" && (r["live_avg_ts"].(float64) <= 0 || r["merged_avg_ts"].(float64) <= 0 || r["live_vs_merged"].(float64) <= 0) {
			t.Errorf("row %d: live %v merged %v ratio %v", i, r["live_avg_ts"], r["merged_avg_ts"], r["live_vs_merged"])
		}
	}

	out, errOut, code = runCLI(t, append(args, "-o", "jsonl")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 6 {
		t.Fatalf("jsonl: exit %d, %d lines: %s", code, len(lines), errOut)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["adapter"] != wantAdapters[i/2] {
			t.Errorf("jsonl line %d: %v %v", i, err, m["adapter"])
		}
	}

	out, errOut, code = runCLI(t, append(args, "-o", "csv")...)
	if code != 0 {
		t.Fatalf("csv: exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 7 {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, k := range fields {
		if _, ok := col[k]; !ok {
			t.Errorf("csv header lacks %q", k)
		}
	}
	for i, rec := range recs[1:] {
		if rec[col["adapter"]] != wantAdapters[i/2] {
			t.Errorf("csv row %d: adapter %q", i, rec[col["adapter"]])
		}
	}

	out, errOut, code = runCLI(t, args...)
	if code != 0 {
		t.Fatalf("md: exit %d: %s", code, errOut)
	}
	md := strings.Split(out, "\n")
	if !strings.HasPrefix(md[0], "| model") || !strings.Contains(md[0], "| adapter |") || !strings.Contains(md[0], "| ratio |") {
		t.Errorf("markdown header %q", md[0])
	}
	cells := func(l string) []string {
		var c []string
		for _, s := range strings.Split(strings.Trim(l, "|"), "|") {
			c = append(c, strings.TrimSpace(s))
		}
		return c
	}
	adCol := slices.Index(cells(md[0]), "adapter")
	for i, want := range []string{"-", "-", "ad:1", "ad:1", "ad:0.5", "ad:0.5"} {
		if c := cells(md[2+i]); adCol < 0 || len(c) <= adCol || c[adCol] != want {
			t.Errorf("markdown row %d %q: adapter column is not %q", i, md[2+i], want)
		}
	}
	for _, s := range []string{"switch p50 µs", "switch p99 µs", "merge ms", "live t/s", "merged t/s", "live/merged"} {
		if !strings.Contains(out, s) {
			t.Errorf("markdown lacks %q:\n%s", s, out)
		}
	}

	_, errOut, code = runCLI(t, "bench", "-m", path, "--adapter", dir+":0")
	if code != 2 || !strings.Contains(errOut, "zero scale") {
		t.Errorf("--adapter DIR:0: exit %d, %q", code, errOut)
	}
}
