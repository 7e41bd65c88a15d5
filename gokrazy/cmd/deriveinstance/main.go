// Command deriveinstance writes a copy of a gokrazy instance with the update
// host changed, for `make update BOX=<ip or name>` (gok has no flag for it),
// and/or with the programs' version stamped, for `make image` and
// `make update` (-version: see internal/daemon.Version).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kibitzbox/kibitzbox/gokrazy/instance"
)

type config struct {
	from, parent, name, updateHost, version string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.from, "from", "gokrazy/pi", "source instance directory (config.json and builddir/)")
	flag.StringVar(&cfg.parent, "parent", "gokrazy/secrets/update", "parent directory of the derived instance")
	flag.StringVar(&cfg.name, "name", "pi", "name of the derived instance")
	flag.StringVar(&cfg.updateHost, "update-host", "", "Update.Hostname of the derived instance (the box's IP or name)")
	flag.StringVar(&cfg.version, "version", "", "version stamped into this module's programs (e.g. the output of git describe)")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "deriveinstance:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.updateHost == "" && cfg.version == "" {
		return fmt.Errorf("nothing to change: give -update-host and/or -version")
	}
	dir, err := instance.Derive(cfg.from, cfg.parent, cfg.name, instance.Overrides{UpdateHostname: cfg.updateHost, Version: cfg.version})
	if err != nil {
		return err
	}
	fmt.Println(dir)
	return nil
}
