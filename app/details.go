package app

import (
	"fmt"
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/disintegration/imaging"

	"github.com/multicloud/multicloud/cloud"
)

// displayEdge bounds the longer side of a photo kept for display: a 24 MP
// original would otherwise take 100 MB of memory and be rescaled on every
// resize of the window.
const displayEdge = 1280

// forDisplay returns img reduced to displayEdge, for showing it. It can take
// tens of milliseconds: call it off the UI goroutine.
func forDisplay(img image.Image) image.Image {
	if img == nil {
		return nil
	}
	b := img.Bounds()
	if b.Dx() <= displayEdge && b.Dy() <= displayEdge {
		return img
	}
	return imaging.Fit(img, displayEdge, displayEdge, imaging.Linear)
}

// labelList shows each label with a bar for its score, best first.
type labelList struct {
	box *fyne.Container
}

func newLabelList() *labelList {
	return &labelList{box: container.NewVBox()}
}

func (l *labelList) set(labels []cloud.Label) {
	l.box.RemoveAll()
	if len(labels) == 0 {
		l.box.Add(&widget.Label{Text: "No labels: nothing the labeller knows was found.",
			Wrapping: fyne.TextWrapWord})
		return
	}
	form := container.New(layout.NewFormLayout())
	for _, lb := range labels {
		bar := &widget.ProgressBar{Min: 0, Max: 1, Value: float64(lb.Score)}
		score := lb.Score
		bar.TextFormatter = func() string { return fmt.Sprintf("%.0f%%", score*100) }
		form.Add(&widget.Label{Text: lb.Name, TextStyle: fyne.TextStyle{Bold: true}})
		form.Add(bar)
	}
	l.box.Add(form)
}

// recordView shows a record's fields; the URL can be copied.
type recordView struct {
	form                                                *fyne.Container
	id, url, size, dims, created, labeller, store, name *widget.Label
	copyURL                                             *widget.Button
	rec                                                 *cloud.Record
}

func newRecordView(clip func() fyne.Clipboard) *recordView {
	v := &recordView{}
	field := func() *widget.Label {
		return &widget.Label{Wrapping: fyne.TextWrapBreak, Selectable: true}
	}
	v.id, v.url, v.size, v.dims = field(), field(), field(), field()
	v.created, v.labeller, v.store, v.name = field(), field(), field(), field()
	v.copyURL = &widget.Button{Icon: theme.ContentCopyIcon(), Importance: widget.LowImportance,
		OnTapped: func() {
			if v.rec != nil {
				clip().SetContent(v.rec.URL)
			}
		}}
	key := func(s string) *widget.Label {
		return &widget.Label{Text: s, TextStyle: fyne.TextStyle{Bold: true}}
	}
	v.form = container.New(layout.NewFormLayout(),
		key("ID"), v.id,
		key("URL"), container.NewBorder(nil, nil, nil, v.copyURL, v.url),
		key("Size"), v.size,
		key("Dimensions"), v.dims,
		key("Taken"), v.created,
		key("Labeller"), v.labeller,
		key("Store"), v.store,
		key("Name"), v.name,
	)
	return v
}

func (v *recordView) set(rec *cloud.Record) {
	v.rec = rec
	if rec == nil {
		v.form.Hide()
		return
	}
	v.id.SetText(rec.ID)
	v.url.SetText(rec.URL)
	v.size.SetText(humanBytes(rec.Bytes))
	v.dims.SetText(fmt.Sprintf("%d × %d", rec.Width, rec.Height))
	v.created.SetText(rec.CreatedAt.Local().Format("2 Jan 2006 15:04:05"))
	v.labeller.SetText(rec.Labeller)
	v.store.SetText(rec.Store)
	v.name.SetText(rec.Name)
	v.form.Show()
}

// photoView is a photo scaled to fit its space.
func photoView(min fyne.Size) *canvas.Image {
	img := &canvas.Image{FillMode: canvas.ImageFillContain, ScaleMode: canvas.ImageScaleSmooth}
	img.SetMinSize(min)
	return img
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
