// Command deriveinstance writes a copy of a gokrazy instance with the update
// host changed, for `make update BOX=<ip or name>` (gok has no flag for it),
// with the programs' version stamped, for `make image` and `make update`
// (-version: see internal/daemon.Version), and with TLS for gokrazy's web
// UI (-web-cert).
//
// It prints the instance directory, and then "new-web-certificate" while
// the certificate is unconfirmed: it was made, gained a name or was renewed,
// and no update or image since has put it on the box (make update removes
// the marker file "unconfirmed" after a successful update), so the box may
// not serve it yet and the next upload cannot verify it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kibitzbox/kibitzbox/gokrazy/instance"
)

type config struct {
	from, parent, name, updateHost, version string
	webCertDir, webNames, gokConfig         string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.from, "from", "gokrazy/pi", "source instance directory (config.json and builddir/)")
	flag.StringVar(&cfg.parent, "parent", "gokrazy/secrets/update", "parent directory of the derived instance")
	flag.StringVar(&cfg.name, "name", "pi", "name of the derived instance")
	flag.StringVar(&cfg.updateHost, "update-host", "", "Update.Hostname of the derived instance (the box's IP or name)")
	flag.StringVar(&cfg.version, "version", "", "version stamped into this module's programs (e.g. the output of git describe)")
	flag.StringVar(&cfg.webCertDir, "web-cert", "", "directory of the web UI's certificate (cert.pem, key.pem; made if missing): turns on TLS for gokrazy's UI and updates")
	flag.StringVar(&cfg.webNames, "web-names", "", "comma-separated names and addresses the certificate must be valid for (the update host is added)")
	flag.StringVar(&cfg.gokConfig, "gok-config", "", "gok's XDG_CONFIG_HOME: with -web-cert, gok update is made to trust the certificate for the update host")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "deriveinstance:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.updateHost == "" && cfg.version == "" && cfg.webCertDir == "" {
		return fmt.Errorf("nothing to change: give -update-host, -version and/or -web-cert")
	}
	o := instance.Overrides{UpdateHostname: cfg.updateHost, Version: cfg.version}
	if cfg.webCertDir != "" {
		var names []string
		for _, n := range strings.Split(cfg.webNames, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		if cfg.updateHost != "" {
			names = append(names, cfg.updateHost)
		}
		wc, err := instance.EnsureWebCert(cfg.webCertDir, names)
		if err != nil {
			return err
		}
		o.WebCert = &wc
	}
	dir, err := instance.Derive(cfg.from, cfg.parent, cfg.name, o)
	if err != nil {
		return err
	}
	fmt.Println(dir)
	if o.WebCert == nil {
		return nil
	}
	if cfg.gokConfig != "" {
		host, err := instance.UpdateHost(dir)
		if err != nil {
			return err
		}
		if err := instance.TrustWebCert(cfg.gokConfig, host, *o.WebCert); err != nil {
			return err
		}
	}
	marker := filepath.Join(cfg.webCertDir, "unconfirmed")
	if o.WebCert.New {
		fmt.Fprintf(os.Stderr, "deriveinstance: the web UI's certificate %s now names %s\n", o.WebCert.Cert, strings.Join(o.WebCert.Names, ", "))
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return fmt.Errorf("marking the new certificate: %w", err)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		fmt.Println("new-web-certificate")
	}
	return nil
}
