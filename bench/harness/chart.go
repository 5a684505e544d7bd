package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var implColor = map[string]color.Color{
	"ceiling": color.RGBA{R: 120, G: 120, B: 120, A: 255},
	"sluice":  color.RGBA{R: 31, G: 119, B: 180, A: 255},
	"java":    color.RGBA{R: 214, G: 96, B: 39, A: 255},
}

// drawChart writes a PNG with two bar charts: records/s and CPU seconds per
// million records, one bar per contender that ran.
func drawChart(path string, results []*result, figs map[string]map[string]float64, m metaJSON) error {
	var ran []*result
	for _, r := range results {
		if _, ok := figs[r.contender.Name]["records_per_s"]; ok {
			ran = append(ran, r)
		}
	}
	panel := func(fig, title, ylabel string) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.Y.Label.Text = ylabel
		names := make([]string, len(ran))
		w := vg.Points(28)
		for i, r := range ran {
			names[i] = r.contender.Name
			vals := make(plotter.Values, len(ran))
			vals[i] = figs[r.contender.Name][fig]
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return nil, err
			}
			bars.Color = implColor[r.contender.Impl]
			bars.LineStyle.Width = 0
			p.Add(bars)
		}
		p.NominalX(names...)
		p.X.Tick.Label.Rotation = 0.35
		p.X.Tick.Label.XAlign = draw.XRight
		p.Y.Min = 0
		return p, nil
	}
	mode := "full run"
	if m.Mode == "quick" {
		mode = "QUICK run"
	}
	p1, err := panel("records_per_s", fmt.Sprintf("Throughput, %s, %d lines (higher is better)", mode, m.InputLines), "records/s")
	if err != nil {
		return err
	}
	p2, err := panel("cpu_s_per_million_records", "CPU per million records (lower is better)", "CPU s / M records")
	if err != nil {
		return err
	}
	const wpt, hpt = 720, 720
	img := vgimg.New(vg.Points(wpt), vg.Points(hpt))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(8), PadY: vg.Points(16)}
	plots := [][]*plot.Plot{{p1}, {p2}}
	canvases := plot.Align(plots, tiles, dc)
	p1.Draw(canvases[0][0])
	p2.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
