package hotspot

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/kibitzbox/kibitzbox/internal/statefile"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// IdentityFile is the name of the network identity file in the state dir.
const IdentityFile = "wifi.json"

// Identity is the persisted name and secret of the network.
type Identity struct {
	SSID string `json:"ssid"`
	// Passphrase is for WPA2; it is generated now so that the QR on the
	// screen does not change when WPA2 is switched on.
	Passphrase string `json:"passphrase"`
}

// passphraseAlphabet leaves out characters that are easy to confuse when
// read off a small screen (0/O, 1/l/I).
const passphraseAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// PassphraseLen is the length of generated passphrases.
const PassphraseLen = 12

// NewPassphrase returns a random passphrase from passphraseAlphabet.
func NewPassphrase() (string, error) {
	var sb strings.Builder
	max := big.NewInt(int64(len(passphraseAlphabet)))
	for range PassphraseLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate passphrase: %w", err)
		}
		sb.WriteByte(passphraseAlphabet[n.Int64()])
	}
	return sb.String(), nil
}

// DefaultSSID is "Kibitz-" and the last two bytes of the MAC in hex.
func DefaultSSID(mac net.HardwareAddr) string {
	if len(mac) < 2 {
		return "Kibitz"
	}
	return fmt.Sprintf("Kibitz-%02X%02X", mac[len(mac)-2], mac[len(mac)-1])
}

// ValidateSSID checks the 802.11 limit of 1–32 bytes.
func ValidateSSID(ssid string) error {
	if len(ssid) == 0 || len(ssid) > 32 {
		return fmt.Errorf("SSID %q: must be 1 to 32 bytes, is %d", ssid, len(ssid))
	}
	return nil
}

// ValidatePassphrase checks the WPA2 limit of 8–63 printable ASCII characters.
func ValidatePassphrase(p string) error {
	if len(p) < 8 || len(p) > 63 {
		return fmt.Errorf("passphrase must be 8 to 63 characters, is %d", len(p))
	}
	for _, r := range p {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("passphrase: character %q is not printable ASCII", r)
		}
	}
	return nil
}

func (id *Identity) validate() error {
	if err := ValidateSSID(id.SSID); err != nil {
		return err
	}
	if !utf8.ValidString(id.SSID) {
		return fmt.Errorf("SSID %q is not UTF-8", id.SSID)
	}
	return ValidatePassphrase(id.Passphrase)
}

// LoadIdentity reads <stateDir>/wifi.json. A missing file is created with
// defaults (SSID from mac, a new passphrase); a corrupt one is moved aside,
// logged and replaced. Non-empty ssid/passphrase override the stored values
// and are persisted, so the screen and the network stay in step after a
// restart without the flag.
func LoadIdentity(stateDir string, mac net.HardwareAddr, ssid, passphrase string, log *slog.Logger) (Identity, error) {
	path := filepath.Join(stateDir, IdentityFile)
	var id Identity
	err := statefile.ReadJSON(path, &id, id.validate)
	var corrupt *statefile.CorruptError
	switch {
	case err == nil:
	case errors.Is(err, statefile.ErrNotExist):
		id = Identity{}
	case errors.As(err, &corrupt):
		log.Warn("wifi identity file corrupt; generating a new one", "path", path, "moved_to", corrupt.MovedTo, "err", corrupt.Err)
		id = Identity{}
	default:
		return Identity{}, fmt.Errorf("load wifi identity: %w", err)
	}
	changed := false
	if id.SSID == "" {
		id.SSID, changed = DefaultSSID(mac), true
	}
	if id.Passphrase == "" {
		p, err := NewPassphrase()
		if err != nil {
			return Identity{}, err
		}
		id.Passphrase, changed = p, true
	}
	if ssid != "" && ssid != id.SSID {
		id.SSID, changed = ssid, true
	}
	if passphrase != "" && passphrase != id.Passphrase {
		id.Passphrase, changed = passphrase, true
	}
	if err := id.validate(); err != nil {
		return Identity{}, fmt.Errorf("wifi identity: %w", err)
	}
	if changed {
		if err := statefile.WriteJSON(path, id, 0o600); err != nil {
			return Identity{}, fmt.Errorf("save wifi identity: %w", err)
		}
		log.Info("wifi identity saved", "path", path, "ssid", id.SSID)
	}
	return id, nil
}

// Security modes.
const (
	SecurityOpen = status.SecurityOpen
	SecurityWPA2 = status.SecurityWPA2
)
