package operator

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Facts reads what the operator page shows about the machine itself.
type Facts struct {
	// PermDir is where the state lives (/perm/kibitzbox on the box).
	PermDir string
	// ThermalFile is the SoC temperature in millidegrees
	// (/sys/class/thermal/thermal_zone0/temp).
	ThermalFile string
	// BuildTime is when this build was made: a clock before it has not
	// been set (the Pi has no real-time clock).
	BuildTime time.Time
}

// DefaultThermalFile is the Pi's SoC sensor.
const DefaultThermalFile = "/sys/class/thermal/thermal_zone0/temp"

// TempC is the temperature, or nil where there is no sensor.
func (f Facts) TempC() *float64 {
	raw, err := os.ReadFile(f.ThermalFile)
	if err != nil {
		return nil
	}
	milli, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil
	}
	c := float64(milli) / 1000
	return &c
}

// FreeBytes is the space left for the state directory's file system.
func (f Facts) FreeBytes() (uint64, error) {
	n, err := freeBytes(f.PermDir)
	if err != nil {
		return 0, fmt.Errorf("free space of %s: %w", f.PermDir, err)
	}
	return n, nil
}

// ClockSet reports whether the clock is plausibly right: not before this
// build was made.
func (f Facts) ClockSet(now time.Time) bool {
	return !f.BuildTime.IsZero() && !now.Before(f.BuildTime)
}
