// Command icongen draws Multi-Cloud's icon: three overlapping clouds, one per
// role (store, labeller, catalogue), on a transparent square. The icon is
// drawn by code rather than kept as an artwork file so that anyone can change
// it with a Go toolchain alone; the PNG it writes is committed.
//
//	go run ./app/internal/icongen -o assets/icon.png
package main

import (
	"flag"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"

	"golang.org/x/image/draw"
)

// circle is a disc in the unit square, the icon's coordinate space.
type circle struct{ x, y, r float64 }

// cloud is a union of discs over a flat base, in the unit square.
type cloud struct {
	dx, dy, scale float64
	fill          color.NRGBA
}

// The base shape: three puffs over a rounded bottom, centred on (0.5, 0.5).
var puffs = []circle{
	{0.32, 0.56, 0.17},
	{0.52, 0.44, 0.23},
	{0.72, 0.58, 0.15},
	{0.22, 0.64, 0.11},
	{0.82, 0.66, 0.10},
}

const baseTop, baseBottom, baseLeft, baseRight = 0.58, 0.76, 0.22, 0.82

func (c cloud) contains(x, y float64) bool {
	// Map the point into the base shape's space.
	x = (x-c.dx-0.5)/c.scale + 0.5
	y = (y-c.dy-0.5)/c.scale + 0.5
	for _, p := range puffs {
		if (x-p.x)*(x-p.x)+(y-p.y)*(y-p.y) <= p.r*p.r {
			return true
		}
	}
	return x >= baseLeft && x <= baseRight && y >= baseTop && y <= baseBottom
}

func main() {
	out := flag.String("o", "assets/icon.png", "PNG file to write")
	size := flag.Int("size", 512, "edge of the square icon in pixels")
	flag.Parse()

	// Back to front: the catalogue (blue), the labeller (green), the store
	// (orange). Each cloud has a white rim so that overlaps stay readable.
	clouds := []cloud{
		{dx: -0.14, dy: -0.17, scale: 0.62, fill: color.NRGBA{0x1e, 0x88, 0xe5, 0xff}},
		{dx: 0.16, dy: -0.09, scale: 0.62, fill: color.NRGBA{0x43, 0xa0, 0x47, 0xff}},
		{dx: -0.02, dy: 0.12, scale: 0.72, fill: color.NRGBA{0xfb, 0x8c, 0x00, 0xff}},
	}
	rim := color.NRGBA{0xff, 0xff, 0xff, 0xff}

	// Drawn at four times the size and scaled down, which smooths the edges
	// without an anti-aliasing rasteriser.
	const ss = 4
	big := image.NewNRGBA(image.Rect(0, 0, *size*ss, *size*ss))
	n := float64(*size * ss)
	const rimWidth = 0.018
	for py := 0; py < *size*ss; py++ {
		for px := 0; px < *size*ss; px++ {
			x, y := (float64(px)+0.5)/n, (float64(py)+0.5)/n
			for _, c := range clouds {
				switch {
				case c.contains(x, y):
					big.SetNRGBA(px, py, c.fill)
				case c.contains(x+rimWidth, y) || c.contains(x-rimWidth, y) ||
					c.contains(x, y+rimWidth) || c.contains(x, y-rimWidth):
					big.SetNRGBA(px, py, rim)
				}
			}
		}
	}
	small := image.NewNRGBA(image.Rect(0, 0, *size, *size))
	draw.CatmullRom.Scale(small, small.Bounds(), big, big.Bounds(), draw.Src, nil)

	f, err := os.Create(*out)
	if err != nil {
		slog.Error("create icon", "err", err)
		os.Exit(1)
	}
	if err := png.Encode(f, small); err != nil {
		slog.Error("encode icon", "err", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		slog.Error("write icon", "err", err)
		os.Exit(1)
	}
}
