package doctest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docBlocks returns every fenced block of the README and docs/.
func docBlocks(t *testing.T) []block {
	t.Helper()
	var all []block
	for _, page := range docPages(t) {
		all = append(all, blocks(page, readPage(t, page))...)
	}
	if len(all) == 0 {
		t.Fatal("no fenced blocks in the README and docs/")
	}
	return all
}

// notRunTable returns the names in the first column of docs/testing.md's
// table under "## Commands no test runs".
func notRunTable(t *testing.T) []string {
	t.Helper()
	text := readPage(t, "docs/testing.md")
	_, section, ok := strings.Cut(text, "\n## Commands no test runs\n")
	if !ok {
		t.Fatal(`docs/testing.md has no section "## Commands no test runs"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\|").FindAllStringSubmatch(section, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal(`docs/testing.md's "Commands no test runs" has no rows`)
	}
	return names
}

// commandLines returns the commands of a block: its lines joined where they
// end in a backslash, without blank lines and comments, and without a
// leading "$ " prompt.
func commandLines(text string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(text, "\n") {
		if cur == "" {
			l = strings.TrimPrefix(l, "$ ")
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\")
			continue
		}
		l = strings.TrimSpace(cur + l)
		cur = ""
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// TestBlocksMarked checks, without an engine, that every fenced block of
// the README and docs/ has a marker, that each test name has its check
// here, that each not-run name is in the one table of docs/testing.md and
// each row of it is used, and that each ci block is what .ci/run runs.
func TestBlocksMarked(t *testing.T) {
	ciRun := readPage(t, ".ci/run")
	var ciLines []string
	for _, l := range strings.Split(ciRun, "\n") {
		ciLines = append(ciLines, strings.TrimSpace(l))
	}
	table := notRunTable(t)
	usedRows := map[string]bool{}
	usedTests := map[string]bool{}
	counts := map[string]int{}
	for _, b := range docBlocks(t) {
		kind, name, _ := strings.Cut(b.marker, ":")
		name = strings.TrimSpace(name)
		counts[kind]++
		switch kind {
		case "test":
			if _, ok := commandTests[name]; !ok {
				t.Errorf("%s: <!-- test: %s -->, but internal/doctest has no check of that name (commandTests)", b, name)
			}
			if usedTests[name] {
				t.Errorf("%s: a second block named %q; give each its own name", b, name)
			}
			usedTests[name] = true
		case "ci":
			for _, c := range commandLines(b.text) {
				if c != "bash .ci/run" && !slices.Contains(ciLines, c) {
					t.Errorf("%s: <!-- ci -->, but .ci/run does not run %q as written", b, c)
				}
			}
		case "not run":
			if !slices.Contains(table, name) {
				t.Errorf("%s: <!-- not run: %s -->, but docs/testing.md's table of commands no test runs has no row %q", b, name, name)
			}
			usedRows[name] = true
		case "text":
		default:
			t.Errorf("%s: a fenced block without a marker on the line before it: one of <!-- test: NAME -->, <!-- ci -->, <!-- not run: NAME -->, <!-- text --> (docs/testing.md)", b)
		}
	}
	for _, name := range table {
		if !usedRows[name] {
			t.Errorf("docs/testing.md lists %q among the commands no test runs, but no block is marked <!-- not run: %s -->", name, name)
		}
	}
	for name := range commandTests {
		if !usedTests[name] {
			t.Errorf("internal/doctest checks a block %q, but no block is marked <!-- test: %s -->", name, name)
		}
	}
	t.Logf("blocks: %d run by the doc test, %d by .ci/run, %d not run (docs/testing.md says why), %d text", counts["test"], counts["ci"], counts["not run"], counts["text"])
}
