package bench

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// WriteSVG draws the report as a bar chart: tokens/s of every row, then the peak RSS
// of every configuration with its file-backed and anonymous parts (at the end of the
// run) stacked beside it.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		left, barH, gap, plotW, titleH = 260, 18, 6, 420, 28
	)
	rowH := barH + gap
	h1 := titleH + len(r.Rows)*rowH
	h2 := titleH + len(r.Configs)*(2*barH+gap+4)
	width, height := left+plotW+120, h1+h2+30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)

	maxTS := 0.0
	for _, row := range r.Rows {
		maxTS = max(maxTS, row.AvgTS+row.StddevTS)
	}
	y := 10
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">tokens/s (mean ± sd)</text>`+"\n", y+14)
	y += titleH
	colors := []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"}
	for _, row := range r.Rows {
		c := r.Configs[row.Config]
		name := fmt.Sprintf("%s %s t%d", label(c), row.Test, row.Threads)
		wBar := scale(row.AvgTS, maxTS, plotW)
		sd := scale(row.StddevTS, maxTS, plotW)
		color := colors[row.Config%len(colors)]
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+barH-5, html.EscapeString(name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, wBar, barH, color)
		if sd > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black"/>`+"\n", float64(left)+wBar-sd, float64(left)+wBar+sd, y+barH/2, y+barH/2)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.2f</text>`+"\n", float64(left)+wBar+sd+4, y+barH-5, row.AvgTS)
		y += rowH
	}

	var maxRSS uint64
	for _, c := range r.Configs {
		maxRSS = max(maxRSS, c.PeakRSS, c.Memory.RSS)
	}
	y += 10
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">peak RSS, and RSS after the run: file-backed (weights) | anonymous, MiB</text>`+"\n", y+14)
	y += titleH
	for _, c := range r.Configs {
		color := colors[c.Index%len(colors)]
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s peak</text>`+"\n", left-6, y+barH-5, html.EscapeString(label(c)))
		wp := scale(float64(c.PeakRSS), float64(maxRSS), plotW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, wp, barH, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+wp+4, y+barH-5, mib(c.PeakRSS))
		y += barH + 2
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">file | anon</text>`+"\n", left-6, y+barH-5)
		wf := scale(float64(c.Memory.RSSFile), float64(maxRSS), plotW)
		wa := scale(float64(c.Memory.RSSAnon), float64(maxRSS), plotW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#9c9ede"/>`+"\n", left, y, wf, barH)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#e7969c"/>`+"\n", float64(left)+wf, y, wa, barH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s | %s</text>`+"\n", float64(left)+wf+wa+4, y+barH-5, mib(c.Memory.RSSFile), mib(c.Memory.RSSAnon))
		y += barH + gap + 2
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func scale(v, maxV float64, width int) float64 {
	if maxV <= 0 || v <= 0 {
		return 0
	}
	return v / maxV * float64(width)
}
