package main

import (
	"fmt"
	"io"
)

// logger writes one line per message on stderr, each starting "portenv: ".
type logger struct {
	w     io.Writer
	level int // 0 error, 1 info, 2 debug
}

func newLogger(w io.Writer, level string) *logger {
	l := &logger{w: w, level: 1}
	switch level {
	case "error":
		l.level = 0
	case "debug":
		l.level = 2
	}
	return l
}

func (l *logger) Errorf(format string, args ...any) { l.printf(0, "", format, args...) }
func (l *logger) Warnf(format string, args ...any)  { l.printf(0, "warning: ", format, args...) }
func (l *logger) Infof(format string, args ...any)  { l.printf(1, "", format, args...) }
func (l *logger) Debugf(format string, args ...any) { l.printf(2, "", format, args...) }

func (l *logger) printf(level int, tag, format string, args ...any) {
	if level <= l.level {
		fmt.Fprintf(l.w, "portenv: "+tag+format+"\n", args...)
	}
}
