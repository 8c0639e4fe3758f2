package atomicfile

import (
	"errors"
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
	err := Write(path, []byte("NEW=2\n"))
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
	dir := t.TempDir()
	path := filepath.Join(dir, "vars.env")
	if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rename = func(string, string) error { return errors.New("rename: injected failure") }
	defer func() { rename = os.Rename }()
	err := Write(path, []byte("NEW=2\n"))
	if want := "cannot write " + path + ": rename: injected failure; the file was left as it was"; err == nil || err.Error() != want {
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
}

func TestWriteFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "vars.env")
	err := Write(path, nil)
	want := "cannot write " + path + ": no such file or directory; check that the directory exists and is writable"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if err := CheckWritable(path); err == nil || err.Error() != want {
		t.Errorf("checkWritable: %v, want %s", err, want)
	}
}

// -o through a symbolic link replaces the file it points to, atomically,
// and keeps the link; a dangling link gets its file created.
func TestWriteFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "data", "vars.env")
	os.WriteFile(target, []byte("OLD=1\n"), 0o644)
	link := filepath.Join(dir, "vars.env")
	if err := os.Symlink("data/vars.env", link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, []byte("NEW=2\n")); err != nil {
		t.Fatal(err)
	}
	if dest, err := os.Readlink(link); err != nil || dest != "data/vars.env" {
		t.Errorf("the link now points to %q (%v), want data/vars.env", dest, err)
	}
	if data, _ := os.ReadFile(target); string(data) != "NEW=2\n" {
		t.Errorf("target holds %q, want NEW=2", data)
	}
	dangling := filepath.Join(dir, "new.env")
	os.Symlink(filepath.Join(dir, "data", "new.env"), dangling)
	if err := Write(dangling, []byte("A=1\n")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "data", "new.env")); string(data) != "A=1\n" {
		t.Errorf("dangling link's target holds %q, want A=1", data)
	}
	if names := dirEntries(t, filepath.Join(dir, "data")); strings.Join(names, ",") != "new.env,vars.env" {
		t.Errorf("data/ holds %q, want new.env and vars.env only", names)
	}
}

// A directory where the file should be is refused before anything is
// written, by a run and by doctor alike.
func TestWriteFileOnDirectory(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, link} {
		want := "cannot write " + dir + ": it is a directory; give the path of a file, such as " + filepath.Join(dir, "vars.env")
		if err := Write(path, []byte("A=1\n")); err == nil || err.Error() != want {
			t.Errorf("Write(%s): %v, want %s", path, err, want)
		}
		if err := CheckWritable(path); err == nil || err.Error() != want {
			t.Errorf("CheckWritable(%s): %v, want %s", path, err, want)
		}
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("the directory now holds %q", names)
	}
}
