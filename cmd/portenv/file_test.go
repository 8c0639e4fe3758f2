package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirEntries lists the names in dir, to find temporary files left behind.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vars.env")
	if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeFile(path, func(w io.Writer) error { _, err := io.WriteString(w, "NEW=2\n"); return err })
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(data) != "NEW=2\n" || st.Mode().Perm() != 0o644 {
		t.Errorf("file holds %q with mode %v, want %q with mode 0644", data, st.Mode().Perm(), "NEW=2\n")
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "vars.env" {
		t.Errorf("directory holds %q, want only vars.env", names)
	}
}

func TestWriteFileFailureLeavesOldFile(t *testing.T) {
	renameFails := errors.New("rename: injected failure")
	for _, tc := range []struct {
		name    string
		content func(io.Writer) error
		rename  func(string, string) error
		want    string
	}{
		{
			name: "content fails halfway",
			content: func(w io.Writer) error {
				io.WriteString(w, "HALF=")
				return errors.New("value cannot be written")
			},
			rename: os.Rename,
			want:   "value cannot be written",
		},
		{
			name:    "rename fails",
			content: func(w io.Writer) error { _, err := io.WriteString(w, "NEW=2\n"); return err },
			rename:  func(string, string) error { return renameFails },
			want:    "cannot write {path}: rename: injected failure; the file was left as it was",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "vars.env")
			if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			rename = tc.rename
			defer func() { rename = os.Rename }()
			err := writeFile(path, tc.content)
			if want := strings.ReplaceAll(tc.want, "{path}", path); err == nil || err.Error() != want {
				t.Errorf("error %v, want %s", err, want)
			}
			data, _ := os.ReadFile(path)
			st, _ := os.Stat(path)
			if string(data) != "OLD=1\n" || st.Mode().Perm() != 0o600 {
				t.Errorf("old file now holds %q with mode %v; want it untouched", data, st.Mode().Perm())
			}
			if names := dirEntries(t, dir); len(names) != 1 || names[0] != "vars.env" {
				t.Errorf("directory holds %q, want only vars.env (no temporary file left)", names)
			}
		})
	}
}

func TestWriteFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "vars.env")
	err := writeFile(path, func(w io.Writer) error { return nil })
	want := "cannot write " + path + ": open " + filepath.Dir(path) + "/"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), ": no such file or directory; check that the directory exists and is writable") {
		t.Errorf("got %v, want %s.vars.env.tmp...: no such file or directory; check that the directory exists and is writable", err, want)
	}
}
