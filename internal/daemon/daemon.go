// Package daemon is the shape the box's three programs (cmd/hub,
// cmd/hotspot, cmd/display) share: the --log-level and --version flags,
// slog set up the same way, one version string, a context that ends on
// SIGINT or SIGTERM, and exit statuses gokrazy's supervisor understands
// (125 for configuration errors, which it does not restart; 1 otherwise).
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1
	// ExitConfig tells gokrazy's supervisor not to restart the process:
	// a bad flag or setting does not heal by restarting.
	ExitConfig = 125
)

// ConfigError is a configuration error: a flag or setting that cannot
// work. Run wraps errors in it; Main exits with ExitConfig for it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Configf returns a *ConfigError with a formatted message (%w wraps).
func Configf(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// ExitCode maps the error a daemon returned to its exit status.
func ExitCode(err error) int {
	var ce *ConfigError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		return ExitConfig
	}
	return ExitFailure
}

// LogLevels are the values --log-level takes.
const LogLevels = "debug, info, warn or error"

// ParseLevel parses a --log-level value (debug, info, warn or error).
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, Configf("--log-level %q: want %s", s, LogLevels)
}

// Flags are the flags every daemon has.
type Flags struct {
	LogLevel    string
	ShowVersion bool
}

// AddFlags registers --log-level and --version on fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.StringVar(&f.LogLevel, "log-level", "info", "log messages at this level and above: "+LogLevels)
	fs.BoolVar(&f.ShowVersion, "version", false, "print the version and exit")
	return f
}

// Env is what Main hands a daemon's run function.
type Env struct {
	Log     *slog.Logger
	Version string
	Stdout  io.Writer
}

// Main parses args with fs (which must not have flags called log-level or
// version; Main adds them), handles --version, sets up slog on stderr,
// runs run with a context that ends on SIGINT or SIGTERM and returns the
// exit status. A failure is logged once, as "<name> failed".
//
// Typical use, in a thin cmd/*/main.go:
//
//	os.Exit(daemon.Main("hub", fs, os.Args[1:], func(ctx context.Context, env daemon.Env) error { ... }))
func Main(name string, fs *flag.FlagSet, args []string, run func(context.Context, Env) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return mainWith(ctx, name, fs, args, os.Stdout, os.Stderr, run)
}

func mainWith(ctx context.Context, name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, run func(context.Context, Env) error) int {
	df := AddFlags(fs)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		// The flag package has printed the error and the usage.
		return ExitConfig
	}
	version := Version()
	if df.ShowVersion {
		fmt.Fprintln(stdout, version)
		return ExitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", name, fs.Args())
		return ExitConfig
	}
	level, err := ParseLevel(df.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitConfig
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// Libraries that log through the default logger (and the standard
	// log package) end up in the same place, at the same level.
	slog.SetDefault(log)
	err = run(ctx, Env{Log: log, Version: version, Stdout: stdout})
	code := ExitCode(err)
	if err != nil {
		log.Error(name+" failed", "err", err, "exit_status", code)
	}
	return code
}
