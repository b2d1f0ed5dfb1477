//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/racefree/racefree/dirfd"
)

func ExampleDir_Install() {
	dir, err := os.MkdirTemp("", "racefree-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// release builds one version of the tree. Everything it does through
	// stage stays inside the new tree, which nobody sees until it is whole.
	release := func(version string) func(stage *dirfd.Dir) error {
		return func(stage *dirfd.Dir) error {
			if err := stage.Mkdir("conf", 0o755); err != nil {
				return err
			}
			f, err := stage.Create("conf/app.conf")
			if err != nil {
				return err
			}
			fmt.Fprintf(f, "version = %s\n", version)
			return f.Close()
		}
	}
	// Checked on the staged tree, before anyone can see it.
	hasConf := dirfd.Verify(func(stage *dirfd.Dir) error {
		_, err := stage.Stat("conf/app.conf")
		return err
	})

	if err := d.Install("site", release("1"), hasConf, dirfd.Mode(0o755)); err != nil {
		log.Fatal(err)
	}
	var res dirfd.InstallResult
	err = d.Install("site", release("2"), hasConf, dirfd.KeepPrevious("site.prev"), dirfd.Result(&res))
	if err != nil {
		log.Fatal(err)
	}
	conf, _ := d.ReadFile("site/conf/app.conf")
	fmt.Print("installed: ", string(conf))

	// A failed build leaves the installed tree as it was.
	err = d.Install("site", func(*dirfd.Dir) error { return errors.New("compiler crashed") })
	fmt.Println(err)

	// Roll back in one atomic step.
	if res.Layout == dirfd.LayoutDirect {
		err = d.Exchange("site", "site.prev")
	} else {
		err = d.Rename("site.prev", "site")
	}
	if err != nil {
		log.Fatal(err)
	}
	conf, _ = d.ReadFile("site/conf/app.conf")
	fmt.Print("rolled back: ", string(conf))
	// Output:
	// installed: version = 2
	// install site: build: compiler crashed
	// rolled back: version = 1
}
