package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// synopses returns the "racefree CMD ARGS" lines of text that name a
// command of the table, in order.
func synopses(text, prefix string) []string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimPrefix(line, prefix)
		for _, c := range commands {
			if strings.HasPrefix(line, "racefree "+c.name+" ") {
				out = append(out, strings.TrimSpace(line))
			}
		}
	}
	return out
}

// TestUsageListsAreInSync: the package documentation (go doc) and the
// command list in README.md show every command of the dispatch table,
// with its synopsis, and no other.
func TestUsageListsAreInSync(t *testing.T) {
	var want []string
	for _, c := range commands {
		want = append(want, "racefree "+c.name+" "+c.synopsis)
	}
	slices.Sort(want)
	main, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(main[:strings.Index(string(main), "package main")])
	if got := slices.Sorted(slices.Values(synopses(doc, "//\t"))); !slices.Equal(got, want) {
		t.Errorf("main.go's package doc lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)## Using the tool\n+```\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no command list under \"## Using the tool\"")
	}
	if got := slices.Sorted(slices.Values(synopses(string(block[1]), ""))); !slices.Equal(got, want) {
		t.Errorf("README.md lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
