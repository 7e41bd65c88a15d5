// Package web implements the box's web servers: the HTTPS server for the
// browser call app (with a persisted self-signed certificate), /api/join and
// the QR page, and the plain-HTTP port-80 captive portal that answers the
// operating systems' connectivity probes.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webapp "github.com/kibitzbox/kibitzbox/web"
)

// HostName is the non-HSTS name the self-signed certificate covers besides
// the advertised IPs (home.arpa is reserved for home networks, RFC 8375).
const HostName = "kibitz.home.arpa"

// Config configures the web servers. StateDir and HTTPSAddr are required.
type Config struct {
	// StateDir holds tls/ with the self-signed key and certificate.
	StateDir string
	// HTTPSAddr serves the call app (":443" on the box, ":8443" on a laptop).
	HTTPSAddr string
	// HTTPAddr serves the captive portal and the redirect to HTTPS (":80"
	// on the box, ":8080" on a laptop). Empty disables it.
	HTTPAddr string
	// TLSCertFile and TLSKeyFile name a real certificate (PEM) to use
	// instead of the self-signed one. Both or neither.
	TLSCertFile, TLSKeyFile string
	// AdvertiseIPs are the box's addresses for guests; the first one is the
	// host of AppURL, and all of them are in the certificate.
	AdvertiseIPs []netip.Addr
	// DefaultRoom is the room of /api/join and the QR page ("lobby").
	DefaultRoom string
	// RoomCap is the number of video participants per room, for the app
	// (default 8).
	RoomCap int
	// Blob returns the hub's current g2 blob.
	Blob func() string
	// KibitzLink returns the kibitz.chat link for a room. Nil builds
	// https://kibitz.chat/?galaxy=<blob>#<room> itself.
	KibitzLink func(room string) string
	// AirBudget returns the relay's air budget in kb/s (0: no limit), for
	// /api/join; nil means no limit.
	AirBudget func() int
	// Laptop says the hub runs on a computer rather than the box: the QR
	// page then tells guests to join from the same network (there is no
	// Wi-Fi QR and no captive portal).
	Laptop bool
	// Admin serves the operator API under /api/admin/ (internal/admin);
	// with it, /admin serves the operator page. Nil turns both off.
	Admin  http.Handler
	Logger *slog.Logger

	// CertEpoch anchors the self-signed certificate's validity; zero means
	// the build date (or a fixed date when the build date is unknown). It
	// is never taken from the clock: the Pi has no real-time clock.
	CertEpoch time.Time
	// ReleaseTTL is how long a captive-portal client stays released
	// (default 12 h); MaxClients bounds the table (default 4096).
	ReleaseTTL time.Duration
	MaxClients int
}

// Server is the pair of web servers. New binds the listeners, so the ports
// (and AppURL) are known before Run.
type Server struct {
	cfg      Config
	log      *slog.Logger
	tls      *tls.Config
	certs    *certStore
	httpsLn  net.Listener
	httpLn   net.Listener
	app      *appFiles
	released *releaseTable
	counters counters
	// calls holds the default room and room cap, which the operator may
	// change while the server runs.
	calls atomic.Pointer[Calls]

	runOnce sync.Once
}

// New loads or creates the certificate, prepares the embedded app and binds
// the listeners. Run serves them; Run also closes them.
func New(cfg Config) (*Server, error) {
	if cfg.HTTPSAddr == "" {
		return nil, errors.New("web: HTTPSAddr is required")
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, fmt.Errorf("web: TLS cert %q and key %q must be given together", cfg.TLSCertFile, cfg.TLSKeyFile)
	}
	if cfg.TLSCertFile == "" && cfg.StateDir == "" {
		return nil, errors.New("web: StateDir is required for the self-signed certificate")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DefaultRoom == "" {
		cfg.DefaultRoom = "lobby"
	}
	if cfg.RoomCap <= 0 {
		cfg.RoomCap = 8
	}
	if cfg.Blob == nil {
		cfg.Blob = func() string { return "" }
	}
	if cfg.ReleaseTTL <= 0 {
		cfg.ReleaseTTL = 12 * time.Hour
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 4096
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		released: newReleaseTable(cfg.MaxClients, cfg.ReleaseTTL, time.Now),
	}
	s.calls.Store(&Calls{DefaultRoom: cfg.DefaultRoom, RoomCap: cfg.RoomCap})

	cert, err := s.loadCertificate()
	if err != nil {
		return nil, err
	}
	s.certs = &certStore{log: s.log, cert: &cert, checked: time.Now()}
	if cfg.TLSCertFile != "" {
		s.certs.certFile, s.certs.keyFile = cfg.TLSCertFile, cfg.TLSKeyFile
		s.certs.checkEvery = time.Minute
		s.certs.certMod, s.certs.keyMod = modTime(cfg.TLSCertFile), modTime(cfg.TLSKeyFile)
	}
	s.tls = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.certs.current(), nil
		},
		NextProtos: []string{"h2", "http/1.1"},
	}

	if s.app, err = loadAppFiles(webapp.Files()); err != nil {
		return nil, err
	}

	if s.httpsLn, err = net.Listen("tcp", cfg.HTTPSAddr); err != nil {
		return nil, fmt.Errorf("web: listen https %s: %w", cfg.HTTPSAddr, err)
	}
	if cfg.HTTPAddr != "" {
		if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			s.httpsLn.Close()
			return nil, fmt.Errorf("web: listen http %s: %w", cfg.HTTPAddr, err)
		}
	}
	return s, nil
}

// Calls are the call settings the app gets from /api/join.
type Calls struct {
	DefaultRoom string
	RoomCap     int
}

// Calls returns the current call settings.
func (s *Server) Calls() Calls { return *s.calls.Load() }

// SetCalls changes the default room and the room cap; apps read them on
// their next /api/join. Zero values keep the current ones.
func (s *Server) SetCalls(c Calls) {
	old := s.Calls()
	if c.DefaultRoom == "" {
		c.DefaultRoom = old.DefaultRoom
	}
	if c.RoomCap <= 0 {
		c.RoomCap = old.RoomCap
	}
	s.calls.Store(&c)
}

// HTTPSAddr is the bound address of the HTTPS listener.
func (s *Server) HTTPSAddr() net.Addr { return s.httpsLn.Addr() }

// HTTPAddr is the bound address of the captive-portal listener, or nil.
func (s *Server) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// CertFingerprint is the SHA-256 of the served certificate, lower-case hex.
func (s *Server) CertFingerprint() string {
	sum := sha256.Sum256(s.certs.current().Leaf.Raw)
	return hex.EncodeToString(sum[:])
}

// AppURL is the link to our call app in room, e.g. https://10.42.0.1/#lobby;
// the port appears when it is not 443. An empty room gives no fragment.
func (s *Server) AppURL(room string) string {
	return s.appURLForHost(s.primaryHost(), room)
}

// primaryHost is the host guests are sent to: the first advertised IP, or
// localhost on a machine that advertises none.
func (s *Server) primaryHost() string {
	if len(s.cfg.AdvertiseIPs) > 0 {
		return s.cfg.AdvertiseIPs[0].Unmap().WithZone("").String()
	}
	return "localhost"
}

func (s *Server) httpsPort() int {
	if ap, err := netip.ParseAddrPort(s.httpsLn.Addr().String()); err == nil {
		return int(ap.Port())
	}
	return 443
}

// appURLForHost builds https://host[:port]/#room.
func (s *Server) appURLForHost(host, room string) string {
	if port := s.httpsPort(); port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u := url.URL{Scheme: "https", Host: host, Path: "/", Fragment: room}
	return u.String()
}

// kibitzBlobEscaper escapes what would end or change the galaxy query
// value; kibitz.chat links carry "|" as %7C.
var kibitzBlobEscaper = strings.NewReplacer("%", "%25", "|", "%7C", "#", "%23", "&", "%26", "+", "%2B", " ", "%20")

// kibitzURL is the kibitz.chat link for room.
func (s *Server) kibitzURL(room string) string {
	if s.cfg.KibitzLink != nil {
		return s.cfg.KibitzLink(room)
	}
	blob := kibitzBlobEscaper.Replace(s.cfg.Blob())
	return "https://kibitz.chat/?galaxy=" + blob + "#" + room
}

// Close releases the listeners of a server that will not Run (for example
// when a later start-up step fails). To stop a running server, cancel the
// context given to Run instead.
func (s *Server) Close() error {
	s.runOnce.Do(func() {}) // a later Run fails instead of serving closed listeners
	err := s.httpsLn.Close()
	if s.httpLn != nil {
		if herr := s.httpLn.Close(); err == nil {
			err = herr
		}
	}
	return err
}

// Run serves until ctx is done, then shuts both servers down gracefully
// (at most 5 s) and closes the listeners. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	err := errors.New("web: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Server) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errorLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug) // TLS handshake noise from guests who have not accepted the cert yet

	servers := []*http.Server{{
		Handler:           s.httpsHandler(),
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}}
	listeners := []net.Listener{tls.NewListener(s.httpsLn, s.tls)}
	if s.httpLn != nil {
		servers = append(servers, &http.Server{
			Handler:           s.captiveHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       20 * time.Second,
			WriteTimeout:      20 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          errorLog,
			BaseContext:       func(net.Listener) context.Context { return ctx },
		})
		listeners = append(listeners, s.httpLn)
	}
	s.log.Info("web: serving", "app", s.AppURL(s.Calls().DefaultRoom), "https", s.httpsLn.Addr().String(),
		"captive", s.HTTPAddr(), "cert_sha256", s.CertFingerprint())

	errs := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			err := srv.Serve(listeners[i])
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("web: serve %s: %w", listeners[i].Addr(), err)
			}
			errs <- err
			cancel() // one server failing stops the other
		}()
	}
	<-ctx.Done()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			srv.Close()
		}
	}
	var first error
	for range servers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	s.log.Info("web: stopped", "err", first)
	return first
}

// counters count what the servers did, for the hub's metrics.
type counters struct {
	splashes, successes, redirects, appLoads, joins atomic.Uint64
}

// Stats is a snapshot of the web servers' counters.
type Stats struct {
	// CaptiveClients is the number of clients released from the portal.
	CaptiveClients int `json:"captive_clients"`
	// Splashes counts probes answered with the splash (not yet released),
	// ProbeSuccesses probes answered "online", Redirects port-80 requests
	// sent to HTTPS.
	Splashes       uint64 `json:"splashes"`
	ProbeSuccesses uint64 `json:"probe_successes"`
	Redirects      uint64 `json:"redirects"`
	// AppLoads counts loads of the app page, Joins /api/join requests.
	AppLoads uint64 `json:"app_loads"`
	Joins    uint64 `json:"joins"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{
		CaptiveClients: s.released.len(),
		Splashes:       s.counters.splashes.Load(),
		ProbeSuccesses: s.counters.successes.Load(),
		Redirects:      s.counters.redirects.Load(),
		AppLoads:       s.counters.appLoads.Load(),
		Joins:          s.counters.joins.Load(),
	}
}
