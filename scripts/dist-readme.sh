#!/usr/bin/env bash
# Prints the README.txt of a `make dist` archive: dist-readme.sh <goos> <version>.
set -euo pipefail
os=$1 version=$2
case $os in
  windows) run='  Double-click hub.exe, or in a terminal in this folder:  .\hub.exe
  Windows asks once whether hub.exe may use the network: allow "Private
  networks", or guests cannot reach it.' ;;
  darwin) run='  In a terminal in this folder:  ./hub
  macOS may refuse to open a downloaded program: run
    xattr -d com.apple.quarantine hub
  once, or allow it in System Settings > Privacy & Security. Allow incoming
  connections when the firewall asks.' ;;
  *) run='  In a terminal in this folder:  ./hub' ;;
esac
cat <<TXT
Kibitz Box hub $version ($os)

A video call hub for the people around you: the call app, the call hub and a
TURN relay in one program. No account, no internet needed.

Run it
$run

  It prints an APP link (and a QR code of it), e.g.
    APP    https://192.168.1.20:8443/#lobby
  Open that link on this computer and on the guests' phones and laptops.
  The certificate is self-signed: accept the browser's warning once
  ("Advanced" > "Proceed"/"Accept the risk"); the browser needs HTTPS to use
  the camera.

On a laptop
  Guests must be on the same Wi-Fi (or LAN) as this computer, and there is
  no captive portal: they open the link or scan the QR code themselves.
  The hub advertises this computer's private LAN address and says which in
  the line under the QR code (GUESTS join over ...). If that is the wrong
  network, pick one:  hub --advertise <ip>
  The state directory ./state keeps the same link across restarts
  (--state <dir> moves it). hub --help lists every flag.
TXT
