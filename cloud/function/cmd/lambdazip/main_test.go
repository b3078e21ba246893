package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestPackageHasExecutableBootstrapAndIsReproducible(t *testing.T) {
	dir := t.TempDir()
	boot := filepath.Join(dir, "bootstrap")
	cfg := filepath.Join(dir, "function.toml")
	os.WriteFile(boot, []byte("#!/bin/sh\n"), 0o700)
	example, err := os.ReadFile(filepath.Join("..", "..", "function.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, example, 0o600)
	out := filepath.Join(dir, "function.zip")
	if err := write(out, []string{boot, "config.toml=" + cfg}); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)

	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	want := map[string]os.FileMode{"bootstrap": 0o755, "config.toml": 0o644}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
	for _, f := range zr.File {
		if m, ok := want[f.Name]; !ok || f.Mode().Perm() != m {
			t.Errorf("%s has mode %v", f.Name, f.Mode())
		}
	}

	if err := write(out, []string{boot, "config.toml=" + cfg}); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(out); !bytes.Equal(first, second) {
		t.Error("the same inputs made a different zip")
	}
}

func TestPackageRefusals(t *testing.T) {
	dir := t.TempDir()
	boot := filepath.Join(dir, "bootstrap")
	os.WriteFile(boot, []byte("x"), 0o755)
	out := filepath.Join(dir, "f.zip")
	for name, args := range map[string][]string{
		"no bootstrap": {"config.toml=" + boot},
		"outside":      {boot, "../x=" + boot},
		"twice":        {boot, "bootstrap=" + boot},
		"nothing":      nil,
		"missing file": {boot, filepath.Join(dir, "nope")},
	} {
		if err := write(out, args); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a refused package was left behind")
	}
}

// Settings the function could not start with are refused before packaging.
func TestRefusesSettingsTheFunctionCannotRun(t *testing.T) {
	dir := t.TempDir()
	boot := filepath.Join(dir, "bootstrap")
	os.WriteFile(boot, []byte("#!/bin/sh\n"), 0o700)
	for name, body := range map[string]string{
		"on-device": "[labeller]\nprovider = \"ondevice\"\n",
		"sqlite":    "[labeller]\nprovider = \"vision\"\n",
		"typo":      "[labeler]\nprovider = \"vision\"\n",
	} {
		cfg := filepath.Join(dir, name+".toml")
		os.WriteFile(cfg, []byte(body), 0o600)
		out := filepath.Join(dir, name+".zip")
		if err := write(out, []string{boot, "config.toml=" + cfg}); err == nil {
			t.Errorf("%s: packaged", name)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a zip was written", name)
		}
	}
}
