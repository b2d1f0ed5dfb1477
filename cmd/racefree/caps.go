package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
)

// capsFeature is one feature in `caps --json` output.
type capsFeature struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Detail    string `json:"detail"`
}

// capsOutput is the whole `caps --json` document: "features" first and
// always present (DESIGN.md fixes its shape); "dir" only with DIR.
type capsOutput struct {
	Features []capsFeature `json:"features"`
	Dir      *capsDir      `json:"dir,omitempty"`
}

// capsDir is the report for DIR's filesystem.
type capsDir struct {
	Path     string        `json:"path"`
	Features []capsFeature `json:"features"`
	// InstallLayout is the layout dirfd.Install (racefree install) uses
	// on this filesystem: "direct" or "versioned".
	InstallLayout string `json:"install_layout,omitempty"`
	Error         string `json:"error,omitempty"` // why the probe could not run
}

func runCaps(e *env, args []string) error {
	flags := newFlags("caps")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) > 1 {
		return usagef("at most one DIR, got %d", len(operands))
	}

	s, err := rf.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()

	out := capsOutput{Features: jsonFeatures(capability.Probe())}
	var probeErr error
	if len(operands) == 1 {
		path := operands[0]
		var r capability.Report
		r, probeErr = probeDir(s, path)
		out.Dir = &capsDir{Path: path, Features: jsonFeatures(r)}
		if probeErr != nil {
			out.Dir.Error = probeErr.Error()
		} else {
			out.Dir.InstallLayout = installLayout(r).String()
		}
	}

	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if err := printCaps(e.stdout, out); err != nil {
		return err
	}
	return probeErr
}

// probeDir opens path and probes its filesystem. Without a usable probe
// it still returns what is known about that filesystem.
func probeDir(s *scope, path string) (capability.Report, error) {
	d, err := s.openDir(path)
	if err != nil {
		return capability.Report{}, err
	}
	defer d.Close()
	r, err := capability.ProbeDir(int(d.Fd()))
	if err != nil {
		return r, fmt.Errorf("probing the filesystem of %s: %s", quote(path), explain(err))
	}
	return r, nil
}

// installLayout is the layout dirfd.Install chooses on a filesystem with
// report r: the tree's directory itself where the filesystem can exchange
// two names atomically, else a symlink to a versioned directory.
func installLayout(r capability.Report) dirfd.Layout {
	if r.Has(capability.RenameExchange) || r.Has(capability.RenameatxNp) {
		return dirfd.LayoutDirect
	}
	return dirfd.LayoutVersioned
}

func jsonFeatures(r capability.Report) []capsFeature {
	fs := []capsFeature{}
	for _, s := range r.Features() {
		fs = append(fs, capsFeature{Name: string(s.Feature), Available: s.Available, Detail: s.Detail})
	}
	return fs
}

// printCaps writes the human-readable report: every feature for the
// kernel, and for DIR the per-filesystem ones (the rest are the kernel's).
func printCaps(w io.Writer, out capsOutput) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "kernel (this process):")
	for _, f := range out.Features {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, yesNo(f.Available), f.Detail)
	}
	if d := out.Dir; d != nil && len(d.Features) > 0 {
		fmt.Fprintf(tw, "\nfilesystem of %s:\n", quote(d.Path))
		for _, f := range d.Features {
			if capability.Feature(f.Name).PerFilesystem() {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, yesNo(f.Available), f.Detail)
			}
		}
		fmt.Fprintln(tw, "  (other features: as for the kernel)")
		switch d.InstallLayout {
		case dirfd.LayoutDirect.String():
			fmt.Fprintln(tw, "  install layout: direct (the tree's directory is exchanged atomically)")
		case dirfd.LayoutVersioned.String():
			fmt.Fprintln(tw, "  install layout: versioned (a symlink to NAME.versions/ID, replaced atomically)")
		}
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
