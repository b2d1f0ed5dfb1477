package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a long tree job advancing (install, cp, chown -R,
// chmod -R, extract) on standard error, and only when that is a terminal:
// it is for people, and must not end up in logs or pipes, where the
// commands print nothing on success.
//
// A job reports running totals (update, or objectsDone) and calls done
// once at the end. Nothing it shows holds a name from the tree, so nothing in the tree
// can write to the terminal through it.
type progress struct {
	bar     *progressbar.ProgressBar // nil: not a terminal, nothing is shown
	w       io.Writer
	what    string // "copying", "changing modes", ...
	bytes   bool   // the job moves data: the bar counts bytes, not objects
	objects int64  // handled so far
	size    int64  // bytes handled so far
	start   time.Time
}

// newProgress starts the display of a job described by what. With bytes,
// the bar counts the bytes add is given and the rate; without, it counts
// objects.
func newProgress(stderr io.Writer, what string, bytes bool) *progress {
	p := &progress{w: stderr, what: what, bytes: bytes, start: time.Now()}
	opts := []progressbar.Option{progressbar.OptionSetWidth(10)}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionSetItsString("objects"), progressbar.OptionShowIts())
	}
	p.bar = terminalBar(stderr, what, -1, opts...)
	return p
}

// terminalBar is a progress bar on stderr counting up to total (-1: not
// known, a spinner), or nil when stderr is not a terminal.
func terminalBar(stderr io.Writer, what string, total int64, opts ...progressbar.Option) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(total, append([]progressbar.Option{
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionShowCount(),
	}, opts...)...)
}

// objectsDone sets the objects handled so far, for jobs that move no data
// (dirfd.TreeProgress).
func (p *progress) objectsDone(objects int) { p.update(int64(objects), 0) }

// update sets the objects and bytes handled so far, for jobs that report
// running totals (dirfd.CopyProgress, extract.Progress).
func (p *progress) update(objects, bytes int64) {
	added, grown := objects-p.objects, bytes-p.size
	p.objects, p.size = objects, bytes
	if p.bar == nil {
		return
	}
	if !p.bytes {
		p.bar.Add64(added)
		return
	}
	p.bar.Describe(fmt.Sprintf("%s: %d objects", p.what, p.objects))
	p.bar.Add64(grown)
}

// done clears the display and, on a terminal, prints summary (if not
// empty) followed by what was handled and how fast.
func (p *progress) done(summary string) {
	if p.bar == nil {
		return
	}
	p.bar.Finish()
	p.bar.Clear()
	if summary == "" {
		return
	}
	secs := time.Since(p.start).Seconds()
	if !p.bytes {
		fmt.Fprintf(p.w, "%s: %d objects in %.1fs\n", summary, p.objects, secs)
		return
	}
	rate := 0.0
	if secs > 0 {
		rate = float64(p.size) / secs
	}
	fmt.Fprintf(p.w, "%s: %d objects, %s in %.1fs (%s/s)\n", summary, p.objects, sizeText(float64(p.size)), secs, sizeText(rate))
}

// sizeText writes n bytes with a binary unit.
func sizeText(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	i := 0
	for n >= unit && i < 4 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n, "KMGT"[i-1])
}
