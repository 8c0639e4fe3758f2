// Package atomicfile writes files so that a reader never sees half of one:
// the content goes to a temporary file in the same directory, which is
// renamed over the file only once complete. On any failure the old file is
// left as it was.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Mode is the mode of the files written: portenv's are addresses and
// ports, meant to be read by other users of the container.
const Mode = 0o644

// rename is os.Rename; tests replace it to make the last step fail.
var rename = os.Rename

// Write writes content to path atomically. A path that is a symbolic link
// is written through: the file it points to is replaced and the link stays,
// as configuration mounted through links expects.
func Write(path string, content []byte) (err error) {
	target, tmp, err := tempBeside(path, "; the file was left as it was")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Chmod(Mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = rename(tmp.Name(), target)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %v; the file was left as it was", path, Unwrap(err))
	}
	return nil
}

// CheckWritable tells whether Write could write path, without touching it.
func CheckWritable(path string) error {
	_, tmp, err := tempBeside(path, "")
	if err != nil {
		return err
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// tempBeside creates a temporary file beside the file that path names,
// through its links; after ends the message of a link that cannot be
// followed.
func tempBeside(path, after string) (target string, tmp *os.File, err error) {
	if target, err = resolveLink(path); err != nil {
		return "", nil, fmt.Errorf("cannot write %s: %v%s", path, err, after)
	}
	tmp, err = createTemp(target)
	return target, tmp, err
}

func createTemp(target string) (*os.File, error) {
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		return nil, fmt.Errorf("cannot write %s: it is a directory; give the path of a file, such as %s", target, filepath.Join(target, "vars.env"))
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %v; check that the directory exists and is writable", target, Unwrap(err))
	}
	return tmp, nil
}

// resolveLink follows path's symbolic links to the file to replace, which
// need not exist yet.
func resolveLink(path string) (string, error) {
	for range 40 {
		dest, err := os.Readlink(path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EINVAL) {
			return path, nil
		}
		if err != nil {
			return "", Unwrap(err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", errors.New("too many levels of symbolic links")
}

// Unwrap drops the operation and path Go's file errors carry, which the
// messages that hold them name already: "no such file or directory".
func Unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
