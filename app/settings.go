package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/multicloud/multicloud/capture"
	"github.com/multicloud/multicloud/cloud/config"
)

// fieldKind says how a provider setting is edited.
type fieldKind int

const (
	textField fieldKind = iota
	// secretField is edited in a password entry that starts empty: a secret
	// is never shown back, and an empty entry keeps the saved one.
	secretField
	boolField
)

// providerField is one setting of a provider. get and set read and write it
// in a Config, as text ("true"/"false" for a bool).
type providerField struct {
	label, hint string
	kind        fieldKind
	get         func(*config.Config) string
	set         func(*config.Config, string)
}

// provider is one way of serving a role.
type provider struct {
	name, title string
	fields      []providerField
}

// role lists the providers that can serve a role. A provider is added by
// adding an entry here (and its fields to config.Config); the settings tab
// builds its form from these tables. No field is a secret today: cloud keys
// come from each SDK's credential chain and are never in the settings file.
// A secret added later is a secretField, edited in a password entry.
type role struct {
	title     string
	providers []provider
	get       func(*config.Config) string
	set       func(*config.Config, string)
}

var roles = []role{
	{
		title: "Store: where originals are kept",
		get:   func(c *config.Config) string { return c.Store.Provider },
		set:   func(c *config.Config, p string) { c.Store.Provider = p },
		providers: []provider{
			{name: "local", title: "Folder on this computer", fields: []providerField{
				text("Folder", "default: photos in the data folder",
					func(c *config.Config) *string { return &c.Store.Dir }),
			}},
			{name: "s3", title: "Amazon S3", fields: []providerField{
				text("Bucket", "", func(c *config.Config) *string { return &c.Store.S3.Bucket }),
				text("Prefix", "prepended to every key",
					func(c *config.Config) *string { return &c.Store.S3.Prefix }),
				text("Region", "e.g. eu-west-1",
					func(c *config.Config) *string { return &c.Store.S3.Region }),
				text("Profile", "from the shared AWS config; credentials are never kept here",
					func(c *config.Config) *string { return &c.Store.S3.Profile }),
				text("Endpoint", "only for an S3-compatible server",
					func(c *config.Config) *string { return &c.Store.S3.Endpoint }),
				check("Path-style addresses",
					func(c *config.Config) *bool { return &c.Store.S3.PathStyle }),
				check("Create the bucket if missing",
					func(c *config.Config) *bool { return &c.Store.S3.CreateBucket }),
			}},
		},
	},
	{
		title: "Labeller: what is in the photo",
		get:   func(c *config.Config) string { return c.Labeller.Provider },
		set:   func(c *config.Config, p string) { c.Labeller.Provider = p },
		providers: []provider{
			{name: "ondevice", title: "On-device model", fields: []providerField{
				text("Model folder", "default: found next to the program",
					func(c *config.Config) *string { return &c.Labeller.ModelDir }),
				check("Find faces", func(c *config.Config) *bool { return &c.Labeller.Faces }),
			}},
			{name: "vision", title: "Google Cloud Vision", fields: []providerField{
				text("Key file", "default: Application Default Credentials",
					func(c *config.Config) *string { return &c.Labeller.Vision.CredentialsFile }),
				text("Endpoint", "host:port; default: Google's",
					func(c *config.Config) *string { return &c.Labeller.Vision.Endpoint }),
				text("Timeout", "per photo, e.g. 30s",
					func(c *config.Config) *string { return &c.Labeller.Vision.Timeout }),
				check("Locate objects",
					func(c *config.Config) *bool { return &c.Labeller.Vision.Objects }),
				check("Find faces",
					func(c *config.Config) *bool { return &c.Labeller.Vision.Faces }),
			}},
		},
	},
	{
		title: "Catalogue: where records are kept",
		get:   func(c *config.Config) string { return c.Catalogue.Provider },
		set:   func(c *config.Config, p string) { c.Catalogue.Provider = p },
		providers: []provider{
			{name: "sqlite", title: "SQLite file on this computer", fields: []providerField{
				text("File", "default: catalogue.db in the data folder",
					func(c *config.Config) *string { return &c.Catalogue.Path }),
			}},
			{name: "cosmos", title: "Azure Cosmos DB", fields: []providerField{
				text("Endpoint", "https://ACCOUNT.documents.azure.com:443/",
					func(c *config.Config) *string { return &c.Catalogue.Cosmos.Endpoint }),
				text("Database", "",
					func(c *config.Config) *string { return &c.Catalogue.Cosmos.Database }),
				text("Container", "",
					func(c *config.Config) *string { return &c.Catalogue.Cosmos.Container }),
				text("Sign-in", "key (from the environment) or entra",
					func(c *config.Config) *string { return &c.Catalogue.Cosmos.Auth }),
				text("Extra CA file", "only for a local Cosmos-compatible server",
					func(c *config.Config) *string { return &c.Catalogue.Cosmos.CACert }),
			}},
		},
	},
}

// text is a text setting at the string ref points to in a Config.
func text(label, hint string, ref func(*config.Config) *string) providerField {
	return providerField{label: label, hint: hint,
		get: func(c *config.Config) string { return *ref(c) },
		set: func(c *config.Config, v string) { *ref(c) = v }}
}

// check is an on/off setting.
func check(label string, ref func(*config.Config) *bool) providerField {
	return providerField{label: label, kind: boolField,
		get: func(c *config.Config) string { return strconv.FormatBool(*ref(c)) },
		set: func(c *config.Config, v string) { *ref(c) = v == "true" }}
}

// resolutions offered for the camera; the camera picks its closest mode.
var resolutions = []struct {
	title string
	w, h  int
}{
	{"Default", 0, 0},
	{"640 × 480", 640, 480},
	{"1280 × 720", 1280, 720},
	{"1920 × 1080", 1920, 1080},
}

// Camera choices that are not a device.
const (
	camAuto      = "Automatic: first camera, else a test pattern"
	camSynthetic = "Test pattern"
	camFolder    = "Photos in a folder"
)

// settingsView is the settings tab. It edits a copy of the settings and
// saves them with the Save button.
type settingsView struct {
	u       *UI
	content fyne.CanvasObject

	roleEdits []*roleEdit
	camera    *widget.Select
	folder    *widget.Entry
	res       *widget.Select
	threshold *widget.Slider
	thrLabel  *widget.Label
	cameraIDs map[string]string // camera choice → spec

	// fileDataDir is data_dir as the settings file has it: --data and
	// MULTICLOUD_DATA override it for one run and must not be saved.
	fileDataDir string
	saveMu      sync.Mutex
}

// roleEdit is the form of one role.
type roleEdit struct {
	role    role
	choice  *widget.Select
	form    *fyne.Container
	entries []func(*config.Config) // apply what was typed
}

func newSettingsView(u *UI) *settingsView {
	s := &settingsView{u: u, cameraIDs: map[string]string{}}
	cfg := u.opts.Config
	s.fileDataDir = cfg.DataDir
	if onFile, err := config.Load(cfg.Path()); err == nil {
		s.fileDataDir = onFile.DataDir
	}

	var cards []fyne.CanvasObject
	for _, r := range roles {
		re := s.newRoleEdit(r, cfg)
		s.roleEdits = append(s.roleEdits, re)
		items := []fyne.CanvasObject{re.choice, re.form}
		if r.title == roles[1].title {
			s.thrLabel = &widget.Label{}
			s.threshold = &widget.Slider{Min: 0.05, Max: 0.95, Step: 0.05,
				Value: float64(cfg.Threshold()), OnChanged: s.showThreshold}
			s.showThreshold(s.threshold.Value)
			items = append(items, container.NewBorder(nil, nil,
				widget.NewLabel("Keep labels scoring at least"), s.thrLabel, s.threshold))
		}
		cards = append(cards, widget.NewCard(r.title, "", container.NewVBox(items...)))
	}

	s.camera = &widget.Select{OnChanged: func(v string) {
		if v == camFolder {
			s.folder.Show()
		} else {
			s.folder.Hide()
		}
	}}
	s.folder = &widget.Entry{PlaceHolder: "folder of photos shown as if a camera took them"}
	s.folder.Hide()
	s.res = &widget.Select{}
	for _, r := range resolutions {
		s.res.Options = append(s.res.Options, r.title)
		if r.w == cfg.Camera.Width && r.h == cfg.Camera.Height {
			s.res.Selected = r.title
		}
	}
	if s.res.Selected == "" {
		custom := fmt.Sprintf("%d × %d", cfg.Camera.Width, cfg.Camera.Height)
		s.res.Options = append(s.res.Options, custom)
		s.res.Selected = custom
	}
	s.fillCameras(nil)
	note := ""
	if u.opts.Camera != "" {
		note = fmt.Sprintf("This run uses --camera %s instead.", u.opts.Camera)
	}
	camForm := container.New(layout.NewFormLayout(),
		widget.NewLabel("Camera"), container.NewVBox(s.camera, s.folder),
		widget.NewLabel("Resolution"), s.res)
	cards = append([]fyne.CanvasObject{widget.NewCard("Camera", note, camForm)}, cards...)

	data := &widget.Label{Text: cfg.DataDir, Selectable: true, Wrapping: fyne.TextWrapBreak}
	cards = append(cards, widget.NewCard("Data folder",
		"Photos, the catalogue, thumbnails and unfinished photos (set with --data)", data))

	save := &widget.Button{Text: "Save", Icon: theme.DocumentSaveIcon(),
		Importance: widget.HighImportance, OnTapped: s.save}
	where := &widget.Label{Text: "Saved to " + cfg.Path(), Truncation: fyne.TextTruncateEllipsis}
	s.content = container.NewBorder(nil, container.NewBorder(nil, nil, nil, save, where),
		nil, nil, container.NewVScroll(container.NewVBox(cards...)))
	return s
}

func (s *settingsView) showThreshold(v float64) {
	s.thrLabel.SetText(fmt.Sprintf("%.0f%%", v*100))
}

func (s *settingsView) newRoleEdit(r role, cfg *config.Config) *roleEdit {
	re := &roleEdit{role: r, form: container.New(layout.NewFormLayout())}
	re.choice = &widget.Select{}
	for _, p := range r.providers {
		re.choice.Options = append(re.choice.Options, p.title)
	}
	current := r.get(cfg)
	re.choice.Selected = r.providers[0].title
	for _, p := range r.providers {
		if p.name == current {
			re.choice.Selected = p.title
		}
	}
	re.choice.OnChanged = func(string) { re.build(cfg) }
	re.build(cfg)
	return re
}

func (re *roleEdit) provider() provider {
	for _, p := range re.role.providers {
		if p.title == re.choice.Selected {
			return p
		}
	}
	return re.role.providers[0]
}

// build makes the form of the chosen provider's fields.
func (re *roleEdit) build(cfg *config.Config) {
	re.form.RemoveAll()
	re.entries = nil
	p := re.provider()
	for _, f := range p.fields {
		f := f
		switch f.kind {
		case boolField:
			ch := &widget.Check{Checked: f.get(cfg) == "true"}
			re.form.Add(widget.NewLabel(f.label))
			re.form.Add(ch)
			re.entries = append(re.entries, func(c *config.Config) {
				f.set(c, strconv.FormatBool(ch.Checked))
			})
		case secretField:
			e := widget.NewPasswordEntry()
			e.PlaceHolder = "unchanged"
			if f.get(cfg) == "" {
				e.PlaceHolder = "not set"
			}
			re.form.Add(widget.NewLabel(f.label))
			re.form.Add(e)
			re.entries = append(re.entries, func(c *config.Config) {
				if e.Text != "" {
					f.set(c, e.Text)
				}
			})
		default:
			e := &widget.Entry{Text: f.get(cfg), PlaceHolder: f.hint}
			re.form.Add(widget.NewLabel(f.label))
			re.form.Add(e)
			re.entries = append(re.entries, func(c *config.Config) {
				f.set(c, strings.TrimSpace(e.Text))
			})
		}
	}
	re.form.Refresh()
}

// fillCameras offers the cameras found, and the current choice. The list is
// asked for once in the background when the tab is built.
func (s *settingsView) fillCameras(devs []capture.Device) {
	cur := s.u.opts.Config.Camera.Device
	opts := []string{camAuto, camSynthetic}
	s.cameraIDs = map[string]string{camAuto: "", camSynthetic: "synthetic", camFolder: ""}
	selected := ""
	switch {
	case cur == "":
		selected = camAuto
	case cur == "synthetic":
		selected = camSynthetic
	case strings.HasPrefix(cur, "file:"):
		selected = camFolder
		s.folder.SetText(strings.TrimPrefix(cur, "file:"))
	}
	for _, d := range devs {
		title := fmt.Sprintf("%s (%s)", d.Label, d.ID)
		opts = append(opts, title)
		s.cameraIDs[title] = "camera:" + d.ID
		if cur == "camera:"+d.ID || cur == "camera" && selected == "" {
			selected = title
		}
	}
	if selected == "" {
		// A camera that is not connected now stays selected.
		selected = cur
		opts = append(opts, cur)
		s.cameraIDs[cur] = cur
	}
	opts = append(opts, camFolder)
	s.camera.Options = opts
	s.camera.SetSelected(selected)
	if devs == nil {
		s.u.goBackground(func(context.Context) {
			found, err := capture.Cameras()
			if err != nil {
				slog.Warn("listing cameras", "err", err)
			}
			if len(found) == 0 {
				return
			}
			s.u.do(func() { s.fillCameras(found) })
		})
	}
}

// save applies the form to the settings and writes them to their file.
// Camera changes apply at once; a change of provider when Multi-Cloud next
// starts, because the roles are opened once, before the window.
func (s *settingsView) save() {
	cfg := s.u.opts.Config
	next := *cfg
	for _, re := range s.roleEdits {
		p := re.provider()
		re.role.set(&next, p.name)
		for _, apply := range re.entries {
			apply(&next)
		}
	}
	next.Labeller.Threshold = float32(s.threshold.Value)
	spec := s.cameraIDs[s.camera.Selected]
	if s.camera.Selected == camFolder {
		dir := strings.TrimSpace(s.folder.Text)
		if dir == "" {
			s.u.showError("The settings were not saved", fmt.Errorf("choose the folder "+
				"of photos to show as a camera"))
			return
		}
		spec = "file:" + dir
	}
	next.Camera.Device = spec
	for _, r := range resolutions {
		if r.title == s.res.Selected {
			next.Camera.Width, next.Camera.Height = r.w, r.h
		}
	}
	cameraChanged := next.Camera != cfg.Camera
	rolesChanged := next.Store != cfg.Store || next.Labeller != cfg.Labeller ||
		next.Catalogue != cfg.Catalogue

	if err := s.write(next); err != nil {
		s.u.showError("The settings were not saved", err)
		return
	}
	*cfg = next
	slog.Info("settings saved", "path", cfg.Path())
	if cameraChanged {
		s.u.capture.start()
	}
	msg := "Saved."
	if rolesChanged {
		msg = "Saved. The new providers are used when Multi-Cloud starts again."
	}
	dialog.ShowInformation("Settings", msg, s.u.win)
}

// write saves c without what this run overrides (the data folder).
func (s *settingsView) write(c config.Config) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	c.DataDir = s.fileDataDir
	return c.Save()
}

// saveSettings writes the settings after a toggle on the capture tab,
// off the UI goroutine.
func (u *UI) saveSettings() {
	c := *u.opts.Config
	u.goBackground(func(context.Context) {
		if err := u.settings.write(c); err != nil {
			u.do(func() { u.showError("The settings were not saved", err) })
		}
	})
}
