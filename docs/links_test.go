// Package docs holds the test of the repository's Markdown pages: every
// relative link (to a file, a directory or a heading of a page) resolves.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// link is a Markdown inline link or image: [text](target) or
// [text](target "title").
var link = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// codeSpan is an inline code span, whose text is not Markdown.
var codeSpan = regexp.MustCompile("`[^`]*`")

// markdownFiles lists the Markdown files of the repository root, leaving
// out what is not the project's (build output, caches, Git's files).
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root {
			switch name := d.Name(); {
			case strings.HasPrefix(name, "."), name == "out", name == "testdata", name == "node_modules":
				return filepath.SkipDir
			}
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// links returns the targets of the links of a Markdown text with their
// line numbers, outside fenced code blocks and code spans.
func links(text string) (targets []string, lines []int) {
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		for _, m := range link.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			targets = append(targets, m[1])
			lines = append(lines, i+1)
		}
	}
	return targets, lines
}

// anchors returns the heading anchors GitHub makes for a Markdown text:
// the heading in lower case, without punctuation but '-' and '_',
// spaces as '-', and "-N" for the Nth repetition.
func anchors(text string) map[string]bool {
	a := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
				b.WriteRune(r)
			}
		}
		s := b.String()
		if n := seen[s]; n > 0 {
			a[s+"-"+strconv.Itoa(n)] = true
		} else {
			a[s] = true
		}
		seen[s]++
	}
	return a
}

// TestLinks checks every relative link of every Markdown file: its file
// or directory exists, and a "#heading" names a heading of the page.
func TestLinks(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the repository root %s has no go.mod: %v", root, err)
	}
	files := markdownFiles(t, root)
	if len(files) < 10 {
		t.Fatalf("found only %d Markdown files under %s", len(files), root)
	}
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		targets, lines := links(string(b))
		for i, target := range targets {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				if filepath.IsAbs(path) {
					t.Errorf("%s:%d: link %q: an absolute path; links are relative to the page", rel, lines[i], target)
					continue
				}
				dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s:%d: link %q: no such file or directory %s", rel, lines[i], target, dest)
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			page, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s:%d: link %q: %v", rel, lines[i], target, err)
				continue
			}
			if !anchors(string(page))[frag] {
				t.Errorf("%s:%d: link %q: %s has no heading whose anchor is #%s", rel, lines[i], target, filepath.Base(dest), frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the link pattern is broken")
	}
	t.Logf("%d relative links in %d Markdown files resolve", checked, len(files))
}

// TestAnchors checks the anchor rule on headings of known anchors.
func TestAnchors(t *testing.T) {
	text := "# svinit\n## Quick start\n```\n# not a heading\n```\n## Exit codes\n## Exit codes\n### `svc -w`: waiting, s6's way\n"
	a := anchors(text)
	for _, want := range []string{"svinit", "quick-start", "exit-codes", "exit-codes-1", "svc--w-waiting-s6s-way"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Errorf("a line in a code block made an anchor: %v", a)
	}
}

// TestLinkPattern checks what counts as a link.
func TestLinkPattern(t *testing.T) {
	text := "see [svc](svc.md) and ![chart](x.svg \"t\"), not `[a](b.md)`\n```\n[c](d.md)\n```\n[e](https://x/y) [f](#g)\n"
	got, _ := links(text)
	want := []string{"svc.md", "x.svg", "https://x/y", "#g"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("links = %q, want %q", got, want)
	}
}

// TestIndex checks that every page of docs/ is linked from the index,
// docs/README.md, and that every command of cmds/ has its page, with an
// Interface and an Exit codes section.
func TestIndex(t *testing.T) {
	index, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := links(string(index))
	linked := map[string]bool{}
	for _, target := range targets {
		path, _, _ := strings.Cut(target, "#")
		linked[path] = true
	}
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if p != "README.md" && !linked[p] {
			t.Errorf("docs/%s: not linked from the index, docs/README.md: add it to its subject's list", p)
		}
	}
	cmds, err := os.ReadDir("../cmds")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cmds {
		if !c.IsDir() || strings.HasPrefix(c.Name(), ".") || strings.HasPrefix(c.Name(), "_") || c.Name() == "testdata" {
			continue
		}
		n++
		page, err := os.ReadFile(c.Name() + ".md")
		if err != nil {
			t.Errorf("cmds/%s has no page docs/%s.md: write one in s6's style (interface, options, exit codes, exact behaviour)", c.Name(), c.Name())
			continue
		}
		for _, h := range []string{"## Interface", "## Exit codes"} {
			if !strings.Contains("\n"+string(page), "\n"+h+"\n") {
				t.Errorf("docs/%s.md has no %q section: every command's page has one (s6's style)", c.Name(), h)
			}
		}
	}
	if n == 0 {
		t.Fatal("no command found in ../cmds")
	}
}
