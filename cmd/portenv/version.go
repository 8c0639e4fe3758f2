package main

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// A release stamps these at link time:
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=<full hash> -X main.date=<RFC 3339>"
//
// Any other build says "dev" and takes the commit from the build information
// that the go command records when it builds inside a git checkout.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// versionString is what `portenv version` prints after the program's name:
//
//	1.2.3 (commit 0a1b2c…, built 2026-11-27T10:00:00Z)
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return describeVersion(version, commit, date, bi)
}

// describeVersion prefers what was stamped; where nothing was, it uses the
// build information (nil when there is none).
func describeVersion(version, commit, date string, bi *debug.BuildInfo) string {
	if version == "" || version == "dev" {
		version = "dev"
		// `go install github.com/portenv/portenv/cmd/portenv@v1.2.3` records
		// the module's tag, which names a release as well as a stamp does.
		if bi != nil && isTaggedVersion(bi.Main.Version) {
			version = strings.TrimPrefix(bi.Main.Version, "v")
		}
	}
	if commit == "" && bi != nil {
		commit = vcsCommit(bi)
	}
	return fmt.Sprintf("%s (commit %s, built %s)", version, orUnknown(commit), orUnknown(date))
}

// vcsCommit is the revision the build information records, with "-dirty"
// when the checkout had changes that are not committed.
func vcsCommit(bi *debug.BuildInfo) string {
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "true" {
		rev += "-dirty"
	}
	return rev
}

// pseudoVersion matches the versions the go command makes up for a commit
// that has no tag of its own (v0.0.0-20261127100000-0a1b2c3d4e5f and kin).
// It is compiled when a version is printed, not at every start.
var pseudoVersion = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`-(?:[^+]*\.)?[0-9]{14}-[0-9a-f]{12}(?:\+|$)`)
})

// isTaggedVersion reports whether v names a tag: not "(devel)", not a
// pseudo-version, not a build from a modified checkout.
func isTaggedVersion(v string) bool {
	return strings.HasPrefix(v, "v") && !pseudoVersion().MatchString(v) && !strings.Contains(v, "+dirty")
}

// releaseVersion is the version alone: "1.2.3", or "dev".
func releaseVersion() string {
	v, _, _ := strings.Cut(versionString(), " ")
	return v
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
