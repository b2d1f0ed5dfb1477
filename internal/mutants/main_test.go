package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestApply(t *testing.T) {
	const src = "func f() {\n\tif a {\n\t\tx = 1\n\t}\n\ty = 2\n}\n"
	for _, tc := range []struct {
		name, orig, repl, want string
		n                      int
	}{
		{"substring once", "x = 1", "x = 0", "func f() {\n\tif a {\n\t\tx = 0\n\t}\n\ty = 2\n}\n", 1},
		{"substring missing", "x = 3", "x = 0", src, 0},
		{"substring twice", " = ", "", src, 2},
		{"lines, other indentation", "\nif a {\n    x = 1\n}", "\nif b {\nx = 2\n}", "func f() {\n\tif b {\n\tx = 2\n\t}\n\ty = 2\n}\n", 1},
		{"lines must match whole", "\nif a {\nx = \n}", "", src, 0},
		{"lines missing", "\nif c {\nx = 1\n}", "", src, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := apply(src, tc.orig, tc.repl)
			if n != tc.n || got != tc.want {
				t.Errorf("apply = %q, %d; want %q, %d", got, n, tc.want, tc.n)
			}
		})
	}
}

// TestEveryMutantApplies: the list is well formed and every mutant's
// original text is found exactly once in the tree as it is, so that code
// that moves on shows here, in every test run, and not only when the
// mutation check runs.
func TestEveryMutantApplies(t *testing.T) {
	if _, err := selectMutants(mutants, ""); err != nil {
		t.Fatal(err)
	}
	for _, m := range mutants {
		src, err := os.ReadFile(filepath.Join("..", "..", m.File))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if _, n := apply(string(src), m.Orig, m.Repl); n != 1 {
			t.Errorf("%s: the original text is found %d times in %s, want once", m.Name, n, m.File)
		}
		if _, err := os.Stat(filepath.Join("..", "..", m.Pkg)); err != nil {
			t.Errorf("%s: package %s: %v", m.Name, m.Pkg, err)
		}
	}
}
