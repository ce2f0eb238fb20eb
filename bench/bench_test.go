package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
)

// llamaBenchFields are the llama-bench JSON field names scripts read.
var llamaBenchFields = []string{"model_filename", "model_type", "model_size", "model_n_params", "n_threads",
	"n_prompt", "n_gen", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts"}

// adapterFields are the extra fields of the adapter figures.
var adapterFields = []string{"adapter", "adapter_scale", "adapter_rank", "adapter_bytes", "adapter_load_ms",
	"adapter_switch_p50_ns", "adapter_switch_p99_ns", "adapter_switch_n", "merge_ms", "merge_rel_err", "merge_error",
	"live_avg_ts", "merged_avg_ts", "merged_stddev_ts", "live_vs_merged"}

// syntheticReport is a three-configuration report with made-up figures: two models,
// then the second with an adapter.
func syntheticReport() Report {
	r := Report{Start: time.Unix(1700000000, 0).UTC(), CPU: "test cpu", BuildCommit: "abc1234",
		Bandwidth: Bandwidth{BytesPerSecond: 20e9, BufferBytes: 256 << 20, Threads: 2, Passes: 5}}
	for i, name := range []string{"a,1.gguf", "b \"2\".gguf", "b \"2\".gguf"} {
		c := ConfigResult{Index: i, Model: "/m/" + name, ModelType: "llama 1.1B Q4_0",
			ModelSize: 600 << 20, FileSize: 610 << 20, Params: 1_100_000_000, Backend: "native", Kernel: "generic",
			LoadCold: 3 * time.Millisecond, LoadWarm: time.Millisecond, TTFTCold: 2 * time.Second, TTFTPrompt: 512,
			PeakRSS: 700 << 20, PeakMethod: "VmHWM", KVBytes: 11 << 20,
			Memory: Memory{RSS: 690 << 20, RSSFile: 610 << 20, RSSAnon: 80 << 20, Split: true, GoHeap: 40 << 20}}
		if i == 2 {
			c.Adapter = AdapterResult{Path: "/a/r16,x", Scale: 0.5, Format: "peft", Rank: 16, Modules: 154, Bytes: 50 << 20,
				Load: 40 * time.Millisecond, SwitchP50: 150 * time.Nanosecond, SwitchP99: 900 * time.Nanosecond, SwitchN: 10000}
		}
		r.Configs = append(r.Configs, c)
		for j, tc := range []struct {
			name   string
			np, ng int
			ts     float64
		}{{"pp512", 512, 0, 50}, {"tg128", 0, 128, 2}, {"pp512+tg128", 512, 128, 8}} {
			row := Row{Config: i, Threads: 2, Test: tc.name, NPrompt: tc.np, NGen: tc.ng, TestTime: r.Start,
				SamplesNS: []int64{1e9, 2e9}, SamplesTS: []float64{tc.ts * float64(i+1), tc.ts * float64(i+1)},
				AvgNS: 1.5e9, StddevNS: 0.7e9, AvgTS: tc.ts * float64(i+1), StddevTS: 0.1, KVBytes: 11 << 20}
			if tc.ng > 0 {
				row.LatencyP50, row.LatencyP90, row.LatencyP99 = 400*time.Millisecond, 450*time.Millisecond, 500*time.Millisecond
			}
			if j == 1 {
				row.BytesPerToken, row.RooflineTS = 600<<20, 31
				row.RooflineFraction = row.AvgTS / row.RooflineTS
			}
			if i == 2 {
				row.Merge, row.MergeRelErr = 4*time.Second, 0.01
				if j == 1 {
					row.LiveTS, row.LiveStddevTS, row.MergedTS, row.MergedStddevTS = 5.5, 0.1, 6.5, 0.2
					row.LiveVsMerged = row.LiveTS / row.MergedTS
				}
			}
			r.Rows = append(r.Rows, row)
		}
	}
	r.fillRatios()
	return r
}

func TestRatios(t *testing.T) {
	r := syntheticReport()
	for _, row := range r.Rows {
		want := float64(row.Config + 1)
		if math.Abs(row.Ratio-want) > 1e-12 {
			t.Errorf("config %d %s ratio %v, want %v", row.Config, row.Test, row.Ratio, want)
		}
	}
}

// checkFormats writes r in every format and checks each parses and carries the rows.
func checkFormats(t *testing.T, r *Report) {
	t.Helper()
	out := func(format string) string {
		var b bytes.Buffer
		if err := r.Write(&b, format); err != nil {
			t.Fatalf("Write %s: %v", format, err)
		}
		return b.String()
	}
	checkRow := func(m map[string]any, i int) {
		t.Helper()
		for _, k := range append(llamaBenchFields, "peak_rss_bytes", "rss_file_bytes", "rss_anon_bytes", "go_heap_bytes", "kv_cache_bytes", "ttft_ms", "token_p99_ms", "load_cold_ms", "kernel", "ratio") {
			if _, ok := m[k]; !ok {
				t.Errorf("row %d lacks %q", i, k)
			}
		}
		if m["avg_ts"].(float64) != r.Rows[i].AvgTS || m["model_filename"] != r.Configs[r.Rows[i].Config].Model {
			t.Errorf("row %d: avg_ts %v model %v, want %v %v", i, m["avg_ts"], m["model_filename"], r.Rows[i].AvgTS, r.Configs[r.Rows[i].Config].Model)
		}
		if s, ok := m["samples_ts"].([]any); !ok || len(s) != len(r.Rows[i].SamplesTS) {
			t.Errorf("row %d samples_ts %v", i, m["samples_ts"])
		}
		row := r.Rows[i]
		a := r.Configs[row.Config].Adapter
		for _, k := range adapterFields {
			if _, ok := m[k]; !ok {
				t.Errorf("row %d lacks %q", i, k)
			}
		}
		if m["adapter"] != a.Path || m["adapter_switch_p50_ns"] != float64(a.SwitchP50.Nanoseconds()) ||
			m["adapter_switch_p99_ns"] != float64(a.SwitchP99.Nanoseconds()) || m["live_vs_merged"] != row.LiveVsMerged ||
			m["merged_avg_ts"] != row.MergedTS || m["merge_ms"] != msf(row.Merge) {
			t.Errorf("row %d adapter fields: adapter %v switch %v/%v live/merged %v merged %v merge %v; want %q %v/%v %v %v %v", i,
				m["adapter"], m["adapter_switch_p50_ns"], m["adapter_switch_p99_ns"], m["live_vs_merged"], m["merged_avg_ts"], m["merge_ms"],
				a.Path, a.SwitchP50.Nanoseconds(), a.SwitchP99.Nanoseconds(), row.LiveVsMerged, row.MergedTS, msf(row.Merge))
		}
	}

	var arr []map[string]any
	if err := json.Unmarshal([]byte(out("json")), &arr); err != nil {
		t.Fatalf("json does not parse: %v", err)
	}
	if len(arr) != len(r.Rows) {
		t.Fatalf("json has %d rows, want %d", len(arr), len(r.Rows))
	}
	for i, m := range arr {
		checkRow(m, i)
	}

	lines := strings.Split(strings.TrimSuffix(out("jsonl"), "\n"), "\n")
	if len(lines) != len(r.Rows) {
		t.Fatalf("jsonl has %d lines, want %d", len(lines), len(r.Rows))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("jsonl line %d does not parse: %v\n%s", i, err, l)
		}
		checkRow(m, i)
	}

	recs, err := csv.NewReader(strings.NewReader(out("csv"))).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v", err)
	}
	if len(recs) != len(r.Rows)+1 {
		t.Fatalf("csv has %d records, want header + %d", len(recs), len(r.Rows))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, k := range append(llamaBenchFields, adapterFields...) {
		if _, ok := col[k]; !ok {
			t.Errorf("csv header lacks %q: %v", k, recs[0])
		}
	}
	for i, rec := range recs[1:] {
		row := r.Rows[i]
		c := r.Configs[row.Config]
		if rec[col["model_filename"]] != c.Model || rec[col["n_prompt"]] == "" {
			t.Errorf("csv row %d: %v", i, rec)
		}
		if rec[col["adapter"]] != c.Adapter.Path || rec[col["adapter_switch_p99_ns"]] != strconv.FormatInt(c.Adapter.SwitchP99.Nanoseconds(), 10) ||
			rec[col["live_vs_merged"]] != strconv.FormatFloat(row.LiveVsMerged, 'f', -1, 64) {
			t.Errorf("csv row %d adapter fields: %q %q %q", i, rec[col["adapter"]], rec[col["adapter_switch_p99_ns"]], rec[col["live_vs_merged"]])
		}
	}

	md := out("md")
	mdLines := strings.Split(md, "\n")
	head := strings.Fields(strings.ReplaceAll(mdLines[0], "|", " "))
	// llama-bench's columns, with the varying parameters (adapter) between threads
	// and test as llama-bench puts them.
	want := []string{"model", "size", "params", "backend", "threads", "test", "t/s"}
	if r.hasAdapters() {
		want = []string{"model", "size", "params", "backend", "threads", "adapter", "test", "t/s"}
	}
	if len(head) < len(want) || strings.Join(head[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("markdown header %q, want llama-bench's columns %v", mdLines[0], want)
	}
	if !strings.HasPrefix(mdLines[1], "| ---") || !strings.Contains(mdLines[1], ": |") {
		t.Errorf("markdown delimiter row %q", mdLines[1])
	}
	for i, row := range r.Rows {
		l := mdLines[2+i]
		if strings.Count(l, "|") != strings.Count(mdLines[0], "|") || !strings.Contains(l, " "+row.Test+" |") || !strings.Contains(l, " ± ") {
			t.Errorf("markdown row %d: %q", i, l)
		}
	}
	for _, s := range []string{"peak RSS MiB", "RSS file MiB", "RSS anon MiB", "token p50 ms", "p99 ms"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
	if r.hasAdapters() {
		for i, row := range r.Rows {
			if c := r.Configs[row.Config]; !strings.Contains(mdLines[2+i], " "+adapterLabel(c)+" ") {
				t.Errorf("markdown row %d lacks its adapter %q: %q", i, adapterLabel(c), mdLines[2+i])
			}
		}
		cells := map[string]bool{}
		for _, l := range mdLines {
			for _, c := range strings.Split(l, "|") {
				cells[strings.TrimSpace(c)] = true
			}
		}
		for _, s := range []string{"switch p50 µs", "switch p99 µs", "merge ms", "live t/s", "merged t/s", "live/merged"} {
			if !cells[s] {
				t.Errorf("markdown lacks the adapter column %q", s)
			}
		}
		for _, row := range r.Rows {
			if row.LiveVsMerged > 0 && !cells[fmt.Sprintf("%.3f", row.LiveVsMerged)] {
				t.Errorf("markdown lacks live/merged %.3f", row.LiveVsMerged)
			}
		}
	} else if strings.Contains(md, "adapter") {
		t.Errorf("markdown without adapters mentions them:\n%s", md)
	}

	var svg bytes.Buffer
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	rects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if want := 1 + len(r.Rows) + 3*len(r.Configs); rects != want {
		t.Errorf("svg has %d rects, want %d (background, one per row, three per configuration)", rects, want)
	}
	if err := r.Write(io.Discard, "xml"); !errors.Is(err, ErrFormat) {
		t.Errorf("Write(xml) = %v, want ErrFormat", err)
	}
}

func TestOutputFormatsSynthetic(t *testing.T) {
	r := syntheticReport()
	checkFormats(t, &r)
	var b bytes.Buffer
	if err := r.Write(&b, "md"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| ratio |") || !strings.Contains(b.String(), "|  2.00 |") {
		t.Errorf("two configurations: markdown lacks the ratio column:\n%s", b.String())
	}
	empty := Report{}
	checkFormatsEmpty(t, &empty)
}

func checkFormatsEmpty(t *testing.T, r *Report) {
	for _, f := range Formats {
		var b bytes.Buffer
		if err := r.Write(&b, f); err != nil {
			t.Errorf("empty report, %s: %v", f, err)
		}
	}
}

func TestStatistics(t *testing.T) {
	m, sd := meanStddev([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if m != 5 || math.Abs(sd-math.Sqrt(32.0/7)) > 1e-12 {
		t.Errorf("meanStddev = %v, %v", m, sd)
	}
	if m, sd := meanStddev([]float64{3}); m != 3 || sd != 0 {
		t.Errorf("one sample: %v %v", m, sd)
	}
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if percentile(d, 0.5) != 50 || percentile(d, 0.9) != 90 || percentile(d, 0.99) != 99 || percentile(d[:1], 0.99) != 1 {
		t.Errorf("percentiles %v %v %v", percentile(d, 0.5), percentile(d, 0.9), percentile(d, 0.99))
	}
	for n, want := range map[int64]string{292800: "293K", 15_000_000: "15M", 1_100_048_384: "1.1B", 7_000_000_000: "7B", 12: "12"} {
		if got := sizeLabel(n); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no model: %v", err)
	}
	if _, err := Run(ctx, Config{Models: []string{"x.gguf"}, Backend: "ort"}); !errors.Is(err, ErrBackend) {
		t.Errorf("ort backend: %v", err)
	}
	if _, err := Run(ctx, Config{Models: []string{"x.gguf"}, Threads: []int{0}}); !errors.Is(err, ErrConfig) {
		t.Errorf("0 threads: %v", err)
	}
	if _, err := Run(ctx, Config{Models: []string{"x.gguf"}, NoPrompt: true, NoGen: true}); !errors.Is(err, ErrConfig) {
		t.Errorf("no tests: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.gguf")
	if _, err := Run(ctx, Config{Models: []string{missing}, Quick: true, BandwidthBytes: -1}); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing file: %v", err)
	}
}

func TestBandwidthSums(t *testing.T) {
	x := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	if s := sumWords(x); s != 66 {
		t.Errorf("sumWords = %d", s)
	}
	bw := MeasureBandwidth(4<<20, 2, 2)
	if bw.BytesPerSecond <= 0 || bw.BufferBytes != 4<<20 || bw.Threads != 2 {
		t.Errorf("MeasureBandwidth = %+v", bw)
	}
}

func TestRunQuickStories260K(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	var steps int
	cfg := Config{Models: []string{path, path}, Threads: []int{1, 2}, Quick: true, PG: []PG{{8, 4}},
		BandwidthBytes: 8 << 20, Progress: func(string) { steps++ }}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if steps == 0 {
		t.Error("no progress reported")
	}
	if len(r.Configs) != 2 || len(r.Rows) != 2*2*3 {
		t.Fatalf("%d configurations, %d rows", len(r.Configs), len(r.Rows))
	}
	fi, _ := os.Stat(path)
	for _, c := range r.Configs {
		if c.ModelType != "llama 293K F32" || c.FileSize != fi.Size() || c.ModelSize <= 0 || c.ModelSize > c.FileSize {
			t.Errorf("config %d: type %q, file %d, size %d", c.Index, c.ModelType, c.FileSize, c.ModelSize)
		}
		if c.LoadCold <= 0 || c.LoadWarm <= 0 || c.TTFTCold <= c.LoadCold || c.TTFTPrompt != 16 {
			t.Errorf("config %d: load %v/%v ttft %v (pp%d)", c.Index, c.LoadCold, c.LoadWarm, c.TTFTCold, c.TTFTPrompt)
		}
		if c.PeakRSS < c.Memory.RSS || c.Memory.RSS == 0 {
			t.Errorf("config %d: peak RSS %d below the RSS %d seen during the run", c.Index, c.PeakRSS, c.Memory.RSS)
		}
		if c.Memory.Split && c.Memory.RSSFile < uint64(c.ModelSize) {
			t.Errorf("config %d: file-backed RSS %d smaller than the mapped weights %d", c.Index, c.Memory.RSSFile, c.ModelSize)
		}
		// stories260K: 5 layers, kv dim 32, float32 keys and values.
		if c.KVBytesPerPosition != 5*32*4*2 || c.KVBytes <= 0 {
			t.Errorf("config %d: kv bytes per position %d, kv bytes %d", c.Index, c.KVBytesPerPosition, c.KVBytes)
		}
	}
	for _, row := range r.Rows {
		if len(row.SamplesNS) != 2 || len(row.SamplesTS) != 2 || row.AvgTS <= 0 || row.AvgNS <= 0 {
			t.Errorf("%s t%d: samples %v avg %v", row.Test, row.Threads, row.SamplesNS, row.AvgTS)
		}
		want := float64(row.NPrompt+row.NGen) * 1e9 / float64(row.SamplesNS[0])
		if math.Abs(row.SamplesTS[0]-want) > 1e-9*want {
			t.Errorf("%s: samples_ts %v does not match samples_ns %v", row.Test, row.SamplesTS[0], row.SamplesNS[0])
		}
		if (row.NPrompt > 0) != (row.TTFT > 0) {
			t.Errorf("%s: ttft %v", row.Test, row.TTFT)
		}
		if row.NGen > 0 && !(0 < row.LatencyP50 && row.LatencyP50 <= row.LatencyP90 && row.LatencyP90 <= row.LatencyP99) {
			t.Errorf("%s: latency percentiles %v %v %v", row.Test, row.LatencyP50, row.LatencyP90, row.LatencyP99)
		}
		if row.Test == "tg16" && (row.RooflineTS <= 0 || row.RooflineFraction <= 0 || row.BytesPerToken < r.Configs[0].WeightBytesPerToken) {
			t.Errorf("tg16: roofline %v t/s, fraction %v, %d bytes/token", row.RooflineTS, row.RooflineFraction, row.BytesPerToken)
		}
		if row.Config == 1 && row.Ratio <= 0 {
			t.Errorf("%s: no ratio against configuration 0", row.Test)
		}
	}
	checkFormats(t, &r)
}

// TestRunQuickAdapterStories260K runs the adapter figures on stories260K with the
// fixed-seed test adapter at two scales: the base and one configuration per adapter,
// side by side.
func TestRunQuickAdapterStories260K(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	ck, err := loader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cfgModel := ck.Config
	ck.Close()
	dir := filepath.Join(t.TempDir(), "adapter")
	if err := testadapter.WritePEFT(cfgModel, dir, 2026); err != nil {
		t.Fatal(err)
	}
	adapters := []Adapter{{Path: dir}, {Path: dir, Scale: 0.5}}
	cfg := Config{Models: []string{path}, Adapters: adapters, Threads: []int{1}, Quick: true, BandwidthBytes: 8 << 20, SwitchIters: 300}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if adapters[0].Scale != 0 {
		t.Error("Run changed the caller's adapter list")
	}
	if len(r.Configs) != 3 || len(r.Rows) != 3*2 {
		t.Fatalf("%d configurations, %d rows; want 3 (base, two adapters) and 6", len(r.Configs), len(r.Rows))
	}
	if r.Configs[0].Adapter != (AdapterResult{}) {
		t.Errorf("base configuration has adapter figures %+v", r.Configs[0].Adapter)
	}
	// testadapter: rank 4 on the seven projections of stories260K's five layers.
	for i, scale := range []float32{1, 0.5} {
		c := r.Configs[i+1]
		a := c.Adapter
		if a.Path != dir || a.Scale != scale || a.Format != "peft" || a.Rank != 4 || a.Modules != 35 || a.Bytes <= 0 || a.Load <= 0 {
			t.Errorf("config %d: adapter %+v", c.Index, a)
		}
		if a.SwitchN != 300 || !(0 < a.SwitchP50 && a.SwitchP50 <= a.SwitchP99) || a.MergeError != "" {
			t.Errorf("config %d: switch n %d p50 %v p99 %v, merge error %q", c.Index, a.SwitchN, a.SwitchP50, a.SwitchP99, a.MergeError)
		}
		if c.TTFTCold <= c.LoadCold || c.Model != path {
			t.Errorf("config %d: ttft cold %v, load cold %v", c.Index, c.TTFTCold, c.LoadCold)
		}
	}
	for _, row := range r.Rows {
		if row.Ratio <= 0 || row.AvgTS <= 0 {
			t.Errorf("config %d %s: t/s %v ratio %v", row.Config, row.Test, row.AvgTS, row.Ratio)
		}
		if row.Config == 0 {
			if row.Merge != 0 || row.MergedTS != 0 || row.LiveTS != 0 || row.LiveVsMerged != 0 {
				t.Errorf("base %s has adapter figures: %+v", row.Test, row)
			}
			continue
		}
		if row.Merge <= 0 || row.MergeRelErr != 0 { // stories260K is F32: merging is exact
			t.Errorf("config %d %s: merge %v, relative error %v", row.Config, row.Test, row.Merge, row.MergeRelErr)
		}
		switch row.Test {
		case "tg16":
			if row.LiveTS <= 0 || row.MergedTS <= 0 || math.Abs(row.LiveVsMerged-row.LiveTS/row.MergedTS) > 1e-12 {
				t.Errorf("config %d tg16: live %v merged %v ratio %v", row.Config, row.LiveTS, row.MergedTS, row.LiveVsMerged)
			}
			// The live adapter's factors are read at every step.
			if row.BytesPerToken < r.Configs[row.Config].WeightBytesPerToken+r.Configs[row.Config].Adapter.Bytes {
				t.Errorf("config %d tg16: %d bytes per token leave out the adapter", row.Config, row.BytesPerToken)
			}
		case "pp16":
			if row.LiveTS != 0 || row.MergedTS != 0 {
				t.Errorf("config %d pp16: live/merged figures on a pp row", row.Config)
			}
		}
	}
	checkFormats(t, &r)
}

func TestAdapterConfigErrors(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	ctx := context.Background()
	base := Config{Models: []string{path}, Threads: []int{1}, Quick: true, BandwidthBytes: -1, Reps: 1}
	for _, c := range []struct {
		ad   Adapter
		want string
	}{
		{Adapter{}, "no path"},
		{Adapter{Path: "x", Scale: float32(math.NaN())}, "not finite"},
		{Adapter{Path: "x", Scale: float32(math.Inf(1))}, "not finite"},
	} {
		cfg := base
		cfg.Adapters = []Adapter{c.ad}
		if _, err := Run(ctx, cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want ErrConfig with %q", c.ad, err, c.want)
		}
	}
	cfg := base
	cfg.SwitchIters = -1
	cfg.Adapters = []Adapter{{Path: "x"}}
	if _, err := Run(ctx, cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("negative switch iterations: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "no-adapter")
	cfg = base
	cfg.Adapters = []Adapter{{Path: missing}}
	if _, err := Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "no-adapter") {
		t.Errorf("missing adapter: %v", err)
	}
	// An adapter shaped for another model is refused, naming the adapter.
	other := loader.Config{Arch: "llama", Dim: 128, FFN: 256, Layers: 1, Heads: 4, KVHeads: 4, HeadDim: 32, RopeDim: 32, Vocab: 512, Context: 64}
	dir := filepath.Join(t.TempDir(), "wrong-shape")
	if err := testadapter.WritePEFT(other, dir, 1); err != nil {
		t.Fatal(err)
	}
	cfg.Adapters = []Adapter{{Path: dir}}
	if _, err := Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "wrong-shape") {
		t.Errorf("adapter for another shape: %v", err)
	}
}

// TestRunDepth runs pp and tg at depths 0 and 12 (llama-bench's -d): each test comes
// twice, the second named "… @ d12" with NDepth 12, whose tg row reads 12 more KV
// positions per token, and the csv n_depth column says so.
func TestRunDepth(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	cfg := Config{Models: []string{path}, Threads: []int{1}, Prompt: []int{8}, Gen: []int{4}, Depth: []int{0, 12}, Reps: 1, BandwidthBytes: 8 << 20}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]Row{}
	for _, row := range r.Rows {
		names = append(names, row.Test)
		byName[row.Test] = row
	}
	if want := []string{"pp8", "tg4", "pp8 @ d12", "tg4 @ d12"}; !slices.Equal(names, want) {
		t.Fatalf("tests %q, want %q", names, want)
	}
	tg, tgd := byName["tg4"], byName["tg4 @ d12"]
	if tg.NDepth != 0 || tgd.NDepth != 12 || byName["pp8 @ d12"].NDepth != 12 {
		t.Errorf("depths %d %d %d", tg.NDepth, tgd.NDepth, byName["pp8 @ d12"].NDepth)
	}
	if kv := r.Configs[0].KVBytesPerPosition; tgd.BytesPerToken-tg.BytesPerToken != 12*kv {
		t.Errorf("bytes per token %d at depth 12, %d at 0: want %d more", tgd.BytesPerToken, tg.BytesPerToken, 12*kv)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf, "csv"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	head := strings.Split(lines[0], ",")
	col := slices.Index(head, "n_depth")
	if col < 0 || len(lines) != 5 {
		t.Fatalf("csv: %d lines, n_depth column %d", len(lines), col)
	}
	for i, want := range []string{"0", "0", "12", "12"} {
		if got := strings.Split(lines[i+1], ",")[col]; got != want {
			t.Errorf("csv row %d n_depth %s, want %s", i, got, want)
		}
	}
}
