package doctest

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// inlineLinkRE matches [text](target) and ![alt](target), the target up to
// a space (a title may follow) or the closing parenthesis.
var inlineLinkRE = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// refLinkRE matches a reference definition: [name]: target
var refLinkRE = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+(\S+)`)

// TestLinks checks every relative link of every Markdown file in the
// repository: the file or directory exists, and an #anchor names a heading
// of the Markdown file it points into.
func TestLinks(t *testing.T) {
	root := repoRoot()
	var pages []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") && d.Name() != ".github" || d.Name() == "dist" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			rel, _ := filepath.Rel(root, path)
			pages = append(pages, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(pages)
	if len(pages) < 2 {
		t.Fatalf("found %d Markdown files under %s", len(pages), root)
	}
	anchorCache := map[string]map[string]bool{}
	checked := 0
	for _, page := range pages {
		text := readPage(t, page)
		lines := outsideCode(text)
		nums := make([]int, 0, len(lines))
		for n := range lines {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		for _, n := range nums {
			l := lines[n]
			var targets []string
			for _, m := range inlineLinkRE.FindAllStringSubmatch(l, -1) {
				targets = append(targets, m[1])
			}
			if m := refLinkRE.FindStringSubmatch(l); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if problem := checkLink(root, page, target, anchorCache); problem != "" {
					t.Errorf("%s:%d: link %s: %s", page, n, target, problem)
				}
				checked++
			}
		}
	}
	t.Logf("checked %d links in %d Markdown files", checked, len(pages))
}

// checkLink says what is wrong with one link of page, or "".
func checkLink(root, page, target string, anchorCache map[string]map[string]bool) string {
	target = strings.Trim(target, "<>")
	if u, err := url.Parse(target); err == nil && u.Scheme != "" {
		return "" // http:, https:, mailto: are not checked here
	}
	path, anchor, _ := strings.Cut(target, "#")
	file := page
	if path != "" {
		if strings.HasPrefix(path, "/") {
			return "an absolute path; write it relative to " + page
		}
		unescaped, err := url.PathUnescape(path)
		if err != nil {
			return err.Error()
		}
		file = filepath.Join(filepath.Dir(page), unescaped)
	}
	info, err := os.Stat(filepath.Join(root, file))
	if err != nil {
		return "no such file or directory: " + file
	}
	if anchor == "" {
		return ""
	}
	if info.IsDir() || !strings.HasSuffix(file, ".md") {
		return "an anchor into " + file + ", which is not a Markdown file"
	}
	a, ok := anchorCache[file]
	if !ok {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return err.Error()
		}
		a = anchors(string(data))
		anchorCache[file] = a
	}
	if !a[anchor] {
		return "no heading of " + file + " makes the anchor #" + anchor
	}
	return ""
}
