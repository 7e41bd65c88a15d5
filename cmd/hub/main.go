// Command hub is the Kibitz Box call hub: a Kibitz-compatible WebRTC hub
// (ICE-lite, DTLS, SCTP on one UDP port, no signaling server), a TURN relay
// for the guests' media, the HTTPS server of the call app with the captive
// portal, and a loopback status endpoint. It needs no root on a laptop.
// The wiring lives in internal/hubd; this file only parses flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/hubd"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

func main() {
	cfg := hubd.DefaultConfig()
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hub [flags]\n\nRuns the Kibitz Box call hub, TURN relay and call app. Prints the join link,\nthe g2 blob and a QR code on start; the same state directory keeps the same link.\nExit status 125: a configuration error (gokrazy does not restart it); 1: another failure.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.StateDir, "state", cfg.StateDir, "state directory (hub identity, id high-water mark, HTTPS certificate); /perm/kibitzbox on the box")
	fs.StringVar(&cfg.Advertise, "advertise", cfg.Advertise, "comma-separated IPv4 addresses put into the blob and links; empty = this machine's private LAN addresses (10.42.0.1 on the box)")
	fs.IntVar(&cfg.Port, "port", cfg.Port, "hub UDP port (ICE/DTLS/SCTP); kibitz.chat discovery probes 4711")
	fs.IntVar(&cfg.TURNPort, "turn-port", cfg.TURNPort, "TURN relay UDP port; 0 picks a free port, -1 turns TURN off (the blob becomes g1)")
	fs.BoolVar(&cfg.Discoverable, "discoverable", cfg.Discoverable, "also answer the public Kibitz discovery identity (needs --port 4711 and --turn-port 3478), so kibitz.chat's \"Find a nearby call\" finds the box")
	fs.StringVar(&cfg.StatusAddr, "status", cfg.StatusAddr, "loopback address of /status (JSON) and /metrics (Prometheus); empty turns it off")
	fs.StringVar(&cfg.Room, "room", cfg.Room, "default room of the printed links and the QR code")
	fs.IntVar(&cfg.RoomCap, "room-cap", cfg.RoomCap, "people per room with video, enforced by the call app")
	fs.StringVar(&cfg.HTTPSAddr, "https", cfg.HTTPSAddr, "HTTPS address of the call app (:443 on the box); empty turns the web server off")
	fs.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "HTTP address of the captive portal and redirect (:80 on the box); empty turns it off")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate for HTTPS instead of the self-signed one (with --tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM key for --tls-cert")
	fs.BoolVar(&cfg.Admin, "admin", cfg.Admin, "serve the operator page at /admin, unlocked with the code in the loopback status (shown on the box's screen)")
	fs.StringVar(&cfg.HotspotStatusAddr, "hotspot-status", status.HotspotAddr, "loopback address of the hotspot's status and control API, for the operator page")
	fs.IntVar(&cfg.AirBudgetKbps, "air-budget-kbps", cfg.AirBudgetKbps, "relayed media rate in kb/s that the guests share fairly when the hotspot reports none (a laptop has no radio); 0 = no limit (docs/air.md)")
	fs.StringVar(&cfg.LANInterface, "lan-iface", cfg.LANInterface, "Ethernet interface towards the venue's network; in Ethernet mode (operator page, guests) its IPv4 address is advertised first and the call QR carries it; empty = never")
	fs.DurationVar(&cfg.LANWait, "lan-wait", cfg.LANWait, "in Ethernet mode, how long to wait at start for the --lan-iface address")
	fs.StringVar(&cfg.TURNClients, "turn-clients", cfg.TURNClients, "comma-separated client subnets allowed to use TURN; empty = loopback plus the advertised addresses' subnets")
	os.Exit(daemon.Main("hub", fs, os.Args[1:], func(ctx context.Context, env daemon.Env) error {
		cfg.Logger, cfg.Version, cfg.Out = env.Log, env.Version, env.Stdout
		return hubd.Run(ctx, cfg)
	}))
}
