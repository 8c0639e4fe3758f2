package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// outputMode is the mode of files written with -o: the variables are
// addresses and ports, meant to be read by other users of the container.
const outputMode = 0o644

// rename is os.Rename; tests replace it to make the last step fail.
var rename = os.Rename

// writeFile writes path atomically: the content goes to a temporary file
// in the same directory, which is renamed over path only once complete. On
// any failure path is left as it was.
func writeFile(path string, content func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v; check that the directory exists and is writable", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriter(tmp)
	if err = content(w); err != nil {
		return err
	}
	if err = w.Flush(); err == nil {
		err = tmp.Chmod(outputMode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %v; the file was left as it was", path, err)
	}
	return nil
}
