package app

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
)

// galleryPage is how many records one catalogue call returns. A page fills
// a large window, so the first one is all most people wait for.
const galleryPage = 60

// galleryView is the gallery tab: thumbnails of past uploads, newest first,
// read from the catalogue a page at a time as the grid scrolls near the end
// of what is loaded.
type galleryView struct {
	u       *UI
	content fyne.CanvasObject

	grid     *widget.GridWrap
	search   *widget.SelectEntry
	minScore *widget.Slider
	minLabel *widget.Label
	info     *widget.Label

	// Loaded records and paging state; UI goroutine only.
	recs    []*cloud.Record
	index   map[string]int // record ID → position in recs
	next    string         // page token of the next page; "" at the end
	loading bool
	gen     int // bumped by every new listing: pages of an older one are dropped
	query   cloud.Query
	loaded  bool // a listing was made since the last change

	// The open detail and its delete confirmation, for Escape.
	detail, confirm dialog.Dialog
}

func newGalleryView(u *UI) *galleryView {
	g := &galleryView{u: u, index: map[string]int{}}
	g.grid = widget.NewGridWrap(
		func() int { return len(g.recs) },
		g.newCell,
		func(id widget.GridWrapItemID, o fyne.CanvasObject) { g.updateCell(id, o) },
	)
	g.grid.OnSelected = func(id widget.GridWrapItemID) {
		g.grid.UnselectAll()
		if id >= 0 && id < len(g.recs) {
			g.openDetail(g.recs[id])
		}
	}
	g.search = widget.NewSelectEntry(nil)
	g.search.PlaceHolder = "Search a label, e.g. cup"
	g.search.OnChanged = func(string) { g.reload() }
	g.minLabel = &widget.Label{Text: "min score 0%"}
	g.minScore = &widget.Slider{Min: 0, Max: 1, Step: 0.05, Orientation: widget.Horizontal}
	g.minScore.OnChanged = func(v float64) {
		g.minLabel.SetText(fmt.Sprintf("min score %.0f%%", v*100))
	}
	g.minScore.OnChangeEnded = func(float64) { g.reload() }
	g.info = &widget.Label{}
	refresh := &widget.Button{Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance,
		OnTapped: g.reload}
	bar := container.NewBorder(nil, nil, nil,
		container.NewHBox(g.minLabel, container.NewGridWrap(fyne.NewSize(180, 36), g.minScore),
			refresh),
		g.search)
	g.content = container.NewBorder(bar, g.info, nil, nil, g.grid)
	return g
}

// cell is one thumbnail in the grid with its best label.
type cell struct {
	widget.BaseWidget
	img   *canvas.Image
	label *widget.Label
	icon  *widget.Icon
}

func (g *galleryView) newCell() fyne.CanvasObject {
	c := &cell{
		img: &canvas.Image{FillMode: canvas.ImageFillContain,
			ScaleMode: canvas.ImageScaleSmooth},
		icon: widget.NewIcon(theme.MediaPhotoIcon()),
		label: &widget.Label{Alignment: fyne.TextAlignCenter,
			Truncation: fyne.TextTruncateEllipsis},
	}
	c.img.SetMinSize(fyne.NewSize(160, 120))
	c.ExtendBaseWidget(c)
	return c
}

func (c *cell) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.NRGBA{0x80, 0x80, 0x80, 0x30})
	return widget.NewSimpleRenderer(container.NewBorder(nil, c.label, nil, nil,
		container.NewStack(bg, container.NewCenter(c.icon), c.img)))
}

func (g *galleryView) updateCell(id widget.GridWrapItemID, o fyne.CanvasObject) {
	c := o.(*cell)
	if id < 0 || id >= len(g.recs) {
		return
	}
	rec := g.recs[id]
	c.label.SetText(cellTitle(rec))

	th, ok := g.u.thumbs.get(rec.ID)
	switch {
	case ok && th.err == nil:
		c.img.Image = th.img
		c.icon.Hide()
	case ok:
		c.img.Image = nil
		c.icon.SetResource(theme.BrokenImageIcon())
		c.icon.Show()
	default:
		c.img.Image = nil
		c.icon.SetResource(theme.MediaPhotoIcon())
		c.icon.Show()
		g.u.thumbs.request(rec, func(thumb) {
			if i, ok := g.index[rec.ID]; ok {
				g.grid.RefreshItem(i)
			}
		})
	}
	c.img.Refresh()

	// Ask for the next page while the person is still a screen away from
	// the end, so that scrolling does not stop at a page boundary.
	if id >= len(g.recs)-galleryPage/2 {
		g.loadMore()
	}
}

// cellTitle is the best label and its score, or what the photo is called.
func cellTitle(rec *cloud.Record) string {
	if len(rec.Labels) > 0 {
		return fmt.Sprintf("%s %.0f%%", rec.Labels[0].Name, rec.Labels[0].Score*100)
	}
	if rec.Name != "" {
		return rec.Name
	}
	return rec.CreatedAt.Local().Format("2 Jan 15:04")
}

// shown is called when the gallery tab is selected.
func (g *galleryView) shown() {
	if !g.loaded {
		g.reload()
	}
	g.loadLabels()
}

// recorded is called when a photo was recorded: the listing is out of date.
func (g *galleryView) recorded(*cloud.Record) {
	g.loaded = false
	if g.u.tabs.Selected().Content == g.content {
		g.reload()
	}
}

// reload lists again from the first page with the current search.
func (g *galleryView) reload() {
	if g.u.pl == nil {
		g.info.SetText("The catalogue is not open: see Settings.")
		return
	}
	g.gen++
	g.loaded = true
	g.query = cloud.Query{
		Label:    cloud.NormalizeLabel(g.search.Text),
		MinScore: float32(g.minScore.Value),
		Limit:    galleryPage,
	}
	g.recs, g.next, g.loading = nil, "", false
	clear(g.index)
	g.u.thumbs.drop()
	g.grid.ScrollToTop()
	g.grid.Refresh()
	g.info.SetText("Loading…")
	g.fetch("")
}

// loadMore asks for the next page if there is one and none is on its way.
func (g *galleryView) loadMore() {
	if g.next == "" || g.loading {
		return
	}
	g.fetch(g.next)
}

// fetch reads one page off the UI goroutine and appends it.
func (g *galleryView) fetch(token string) {
	g.loading = true
	gen, q := g.gen, g.query
	q.PageToken = token
	cat := g.u.pl.Catalogue
	g.u.goBackground(func(ctx context.Context) {
		page, err := cat.List(ctx, q)
		g.u.do(func() {
			if gen != g.gen {
				return // a newer search replaced this one
			}
			g.loading = false
			if err != nil {
				g.info.SetText("The gallery could not be read.")
				g.u.showError("The gallery could not be read", err)
				return
			}
			for _, r := range page.Records {
				g.index[r.ID] = len(g.recs)
				g.recs = append(g.recs, r)
			}
			g.next = page.NextPageToken
			g.showCount()
			g.grid.Refresh()
		})
	})
}

func (g *galleryView) showCount() {
	more := ""
	if g.next != "" {
		more = " (more as you scroll)"
	}
	switch {
	case len(g.recs) == 0 && g.query.Label != "":
		g.info.SetText(fmt.Sprintf("No photo is labelled %q with at least %.0f%%.",
			g.query.Label, g.query.MinScore*100))
	case len(g.recs) == 0:
		g.info.SetText("No photos yet: take one or import some.")
	default:
		g.info.SetText(fmt.Sprintf("%d photo(s)%s", len(g.recs), more))
	}
}

// loadLabels offers the catalogue's labels in the search box.
func (g *galleryView) loadLabels() {
	if g.u.pl == nil {
		return
	}
	cat := g.u.pl.Catalogue
	g.u.goBackground(func(ctx context.Context) {
		counts, err := cat.Labels(ctx)
		if err != nil {
			slog.Warn("listing labels", "err", err)
			return
		}
		names := make([]string, 0, len(counts))
		for _, c := range counts {
			names = append(names, c.Name)
		}
		g.u.do(func() { g.search.SetOptions(names) })
	})
}

// openDetail shows one photo large with its labels and record, and offers
// to delete it.
func (g *galleryView) openDetail(rec *cloud.Record) {
	img := photoView(fyne.NewSize(480, 360))
	labels := newLabelList()
	labels.set(rec.Labels)
	rv := newRecordView(g.u.app.Clipboard)
	rv.set(rec)
	var d dialog.Dialog
	del := &widget.Button{Text: "Delete…", Icon: theme.DeleteIcon(),
		Importance: widget.DangerImportance,
		OnTapped:   func() { g.confirmDelete(rec, func() { d.Hide() }) }}
	side := container.NewBorder(nil, container.NewHBox(del), nil, nil,
		container.NewVScroll(container.NewVBox(
			&widget.Label{Text: "Labels", TextStyle: fyne.TextStyle{Bold: true}},
			labels.box,
			&widget.Label{Text: "Record", TextStyle: fyne.TextStyle{Bold: true}},
			rv.form,
		)))
	split := container.NewHSplit(img, side)
	split.Offset = 0.6
	d = dialog.NewCustom(cellTitle(rec), "Close", split, g.u.win)
	d.SetOnClosed(func() { g.detail = nil })
	g.detail = d
	size := g.u.win.Canvas().Size()
	d.Resize(fyne.NewSize(size.Width*0.9, size.Height*0.9))
	d.Show()

	store, maxPixels := g.u.pl.Store, g.u.pl.MaxPixels
	g.u.goBackground(func(ctx context.Context) {
		shown, err := readForDisplay(ctx, store, rec.Key, maxPixels)
		g.u.do(func() {
			if err != nil {
				g.u.showError("The photo could not be shown", err)
				return
			}
			img.Image = shown
			img.Refresh()
		})
	})
}

// escape closes the topmost dialog of the gallery; it reports whether
// there was one. Escape on a confirmation keeps the photo.
func (g *galleryView) escape() bool {
	switch {
	case g.confirm != nil:
		g.confirm.Hide()
	case g.detail != nil:
		g.detail.Hide()
	default:
		return false
	}
	return true
}

// readForDisplay reads a stored original and reduces it for the screen.
func readForDisplay(ctx context.Context, store cloud.Store, key string,
	maxPixels int) (image.Image, error) {
	rc, err := store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	d, err := photo.Decode(data, maxPixels)
	if err != nil {
		return nil, err
	}
	return forDisplay(d.Image), nil
}

// confirmDelete asks first, then deletes the record and the original.
func (g *galleryView) confirmDelete(rec *cloud.Record, closeDetail func()) {
	what := "this photo"
	if rec.Name != "" {
		what = rec.Name
	}
	c := dialog.NewConfirm("Delete this photo?",
		fmt.Sprintf("The record and the stored original of %s will be deleted.\n"+
			"This cannot be undone.", what),
		func(ok bool) {
			if ok {
				g.delete(rec, closeDetail)
			}
		}, g.u.win)
	c.SetConfirmText("Delete")
	c.SetDismissText("Keep")
	c.SetConfirmImportance(widget.DangerImportance)
	c.SetOnClosed(func() { g.confirm = nil })
	g.confirm = c
	c.Show()
}

func (g *galleryView) delete(rec *cloud.Record, closeDetail func()) {
	pl := g.u.pl
	g.u.goBackground(func(ctx context.Context) {
		err := pl.Delete(ctx, rec.ID)
		g.u.do(func() {
			if err != nil {
				g.u.showError("The photo was not deleted", err)
				return
			}
			slog.Info("photo deleted", "id", rec.ID)
			g.u.thumbs.forget(rec.ID)
			g.remove(rec.ID)
			closeDetail()
		})
	})
}

// remove takes a deleted record out of the loaded listing.
func (g *galleryView) remove(id string) {
	i, ok := g.index[id]
	if !ok {
		return
	}
	g.recs = append(g.recs[:i], g.recs[i+1:]...)
	delete(g.index, id)
	for j := i; j < len(g.recs); j++ {
		g.index[g.recs[j].ID] = j
	}
	g.showCount()
	g.grid.Refresh()
}
