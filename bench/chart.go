package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
)

// The chart is the latency distribution of every run on HDR histogram
// axes: percentile on a "nines" scale across, latency on a log scale up.
// No plotting library is in the module graph, so it is drawn with the
// image package: axes, grid, one polyline per run, a numbered legend whose
// numbers results.json and stdout name.
const (
	chartW, chartH               = 900, 480
	padL, padR, padT, padB       = 70, 110, 20, 40
	plotW, plotH                 = chartW - padL - padR, chartH - padT - padB
	maxNines                     = 3.0 // x runs from p0 to p99.9
	glyphScale                   = 2
	legendSwatch, legendRowSpace = 14, 22
)

var palette = []color.RGBA{
	{228, 26, 28, 255}, {55, 126, 184, 255}, {77, 175, 74, 255}, {152, 78, 163, 255},
	{255, 127, 0, 255}, {166, 86, 40, 255}, {247, 129, 191, 255}, {90, 90, 90, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// series is one run's curve: points of (percentile, ms).
type series struct {
	label  string
	points [][2]float64
}

// drawChart writes the PNG and returns each label's colour.
func drawChart(path string, all []series) (map[string]string, error) {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	lo, hi := decades(all)
	grid, axis := color.RGBA{225, 225, 225, 255}, color.RGBA{0, 0, 0, 255}
	x := func(pct float64) int { return padL + int(nines(pct)/maxNines*plotW) }
	y := func(ms float64) int {
		return padT + plotH - int((math.Log10(math.Max(ms, math.Pow(10, lo)))-lo)/(hi-lo)*plotH)
	}
	for d := lo; d <= hi; d++ {
		line(img, padL, y(math.Pow(10, d)), padL+plotW, y(math.Pow(10, d)), grid)
		text(img, 4, y(math.Pow(10, d))-5, msLabel(math.Pow(10, d)), axis)
	}
	for _, pct := range []float64{0, 50, 90, 99, 99.9} {
		line(img, x(pct), padT, x(pct), padT+plotH, grid)
		text(img, x(pct)-8, padT+plotH+8, fmt.Sprintf("%g%%", pct), axis)
	}
	line(img, padL, padT, padL, padT+plotH, axis)
	line(img, padL, padT+plotH, padL+plotW, padT+plotH, axis)

	colours := map[string]string{}
	for i, s := range all {
		c := palette[i%len(palette)]
		for j := 1; j < len(s.points); j++ {
			a, b := s.points[j-1], s.points[j]
			thick(img, x(a[0]), y(a[1]), x(b[0]), y(b[1]), c)
		}
		ly := padT + 6 + i*legendRowSpace
		draw.Draw(img, image.Rect(chartW-padR+14, ly, chartW-padR+14+legendSwatch, ly+legendSwatch), image.NewUniform(c), image.Point{}, draw.Src)
		text(img, chartW-padR+14+legendSwatch+6, ly+2, fmt.Sprint(i+1), axis)
		colours[fmt.Sprintf("%d %s", i+1, s.label)] = fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return nil, err
	}
	return colours, f.Close()
}

// nines maps a percentile to the x axis: 0 -> 0, 90 -> 1, 99 -> 2.
func nines(pct float64) float64 {
	return math.Min(-math.Log10(math.Max(1-pct/100, math.Pow(10, -maxNines))), maxNines)
}

// decades is the log10 range of milliseconds that holds every point.
func decades(all []series) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range all {
		for _, p := range s.points {
			if p[1] > 0 {
				lo, hi = math.Min(lo, math.Log10(p[1])), math.Max(hi, math.Log10(p[1]))
			}
		}
	}
	if math.IsInf(lo, 0) {
		return -1, 3
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if hi == lo {
		hi++
	}
	return lo, hi
}

func msLabel(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%gms", v)
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.0fs", v/1000)
}

// line draws a one-pixel line (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for range dx - dy + 1 { // at most one step per pixel of the longer side
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

// thick draws a two-pixel line.
func thick(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	line(img, x0, y0, x1, y1, c)
	line(img, x0+1, y0, x1+1, y1, c)
	line(img, x0, y0+1, x1, y1+1, c)
}

// glyphs is a 5-pixel-high font for the axis labels and legend numbers.
var glyphs = map[rune][5]string{
	'0': {"###", "#.#", "#.#", "#.#", "###"},
	'1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"###", "..#", "###", "#..", "###"},
	'3': {"###", "..#", "###", "..#", "###"},
	'4': {"#.#", "#.#", "###", "..#", "..#"},
	'5': {"###", "#..", "###", "..#", "###"},
	'6': {"###", "#..", "###", "#.#", "###"},
	'7': {"###", "..#", "..#", "..#", "..#"},
	'8': {"###", "#.#", "###", "#.#", "###"},
	'9': {"###", "#.#", "###", "..#", "###"},
	'.': {".", ".", ".", ".", "#"},
	'%': {"#.#", "..#", ".#.", "#..", "#.#"},
	'm': {".....", ".....", "####.", "#.#.#", "#.#.#"},
	's': {"...", "...", ".##", ".#.", "##."},
}

// text draws s with its top-left corner at (x, y); unknown runes are gaps.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			x += 4 * glyphScale
			continue
		}
		for row, bits := range g {
			for col, b := range bits {
				if b == '#' {
					draw.Draw(img, image.Rect(x+col*glyphScale, y+row*glyphScale, x+(col+1)*glyphScale, y+(row+1)*glyphScale),
						image.NewUniform(c), image.Point{}, draw.Src)
				}
			}
		}
		x += (len(g[0]) + 1) * glyphScale
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
