#!/bin/busybox sh
# Guest side of the hotspot VM test; runs as /init. Every check prints one
# "KBVM <step> ok|fail <detail>" line on the console for the Go test.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /run /state /www
mount -t tmpfs run /run
ip link set lo up

HS_LOG=/tmp/hotspot.log
STATUS=http://127.0.0.1:8078/status
SSID=Kibitz-0000
STA_MAC=02:00:00:00:01:00

finish() {
	echo "KBVM done"
	sync
	poweroff -f
}
ok() { echo "KBVM $1 ok ${2:-}"; }
fail() {
	echo "KBVM $1 fail ${2:-}"
	echo "---- hotspot log"; tail -n 40 $HS_LOG; echo "---- wpa log"; tail -n 20 /tmp/wpa.log 2>/dev/null
	finish
}
# retry N CMD...: run CMD once a second until it succeeds, at most N times.
retry() {
	n=$1; shift
	i=0
	while [ $i -lt $n ]; do
		"$@" && return 0
		i=$((i + 1))
		sleep 1
	done
	return 1
}

for m in rfkill cfg80211 libarc4 mac80211 virtio_ring virtio mac80211_hwsim; do
	insmod "$(find /lib/modules -name $m.ko)" || fail modules "insmod $m"
done
ok modules

# Radio 1 is the station, in its own network namespace.
unshare -n sleep 100000 &
STA_NS=$!
sleep 0.3
iw phy phy1 set netns $STA_NS || fail netns "iw phy phy1 set netns"
S() { nsenter -t $STA_NS -n "$@"; }
S ip link set lo up
S ip link set wlan1 up || fail netns "wlan1 up"
ok netns

status_has() { wget -q -O - $STATUS 2>/dev/null | grep -q "$1"; }
# stations_has PATTERN: the "stations" array of the status lists PATTERN.
stations() { wget -q -O - $STATUS 2>/dev/null | awk '/"stations": \[/{p=1} p{print} p&&/\]/{exit}' > /tmp/stations.json; }
stations_has() { stations && grep -q "$1" /tmp/stations.json; }
stations_lack() { stations && grep -q '"stations"' /tmp/stations.json && ! grep -q "$1" /tmp/stations.json; }

start_hotspot() {
	# --modules names an already loaded module: finit_module must tolerate EEXIST.
	/hotspot --state /state --country DE --channel 6 --modules mac80211_hwsim \
		--captive-url http://10.42.0.1/captive-portal/api.json --inactivity 2m --debug >>$HS_LOG 2>&1 &
	HS_PID=$!
	retry 30 status_has '"state": "running"' || fail "$1" "hotspot did not reach running"
	ok "$1" "pid=$HS_PID"
}

start_hotspot hotspot-start
wget -q -O /tmp/status.json $STATUS
echo "KBVM status-json $(tr -d '\n\t' < /tmp/status.json)"

echo kibitz-vm-page > /www/index.html
httpd -p 10.42.0.1:80 -h /www || fail httpd "busybox httpd"

scan_sees() { S iw dev wlan1 scan flush > /tmp/scan.txt 2>&1 && grep -q "SSID: $SSID" /tmp/scan.txt; }
retry 8 scan_sees || fail scan "SSID $SSID not in scan: $(tr '\n\t' '  ' < /tmp/scan.txt | head -c 600)"
ok scan "country=$(grep -o 'Country: [A-Z]*' /tmp/scan.txt | head -n 1)"

cat > /tmp/wpa.conf <<EOT
ctrl_interface=/run/wpa
network={
	ssid="$SSID"
	key_mgmt=NONE
}
EOT
cat > /udhcpc.sh <<'EOT'
#!/bin/sh
case "$1" in
bound|renew)
	ifconfig $interface $ip netmask ${subnet:-255.255.255.0}
	echo "ip=$ip router=$router dns=$dns opt114=$opt114" > /tmp/lease.txt
	;;
esac
EOT
chmod +x /udhcpc.sh

completed() { S wpa_cli -p /run/wpa -i wlan1 status 2>/dev/null | grep -q wpa_state=COMPLETED; }
join() {
	rm -f /tmp/lease.txt
	S wpa_supplicant -B -i wlan1 -c /tmp/wpa.conf -P /run/wpa.pid -f /tmp/wpa.log || fail "$1" "wpa_supplicant did not start"
	retry 30 completed || fail "$1" "not associated: $(S wpa_cli -p /run/wpa -i wlan1 status | tr '\n' ' ')"
	ok "$1"
}
join associate

retry 10 stations_has "\"mac\": \"$STA_MAC\"" || fail station-arrives "status lists no station $STA_MAC"
ok station-arrives "$(tr -d '\n\t ' < /tmp/stations.json)"

dhcp() {
	S udhcpc -i wlan1 -f -q -n -t 5 -T 2 -O 114 -s /udhcpc.sh >/tmp/udhcpc.log 2>&1 || fail "$1" "udhcpc: $(tr '\n' ' ' < /tmp/udhcpc.log)"
	ok "$1" "$(cat /tmp/lease.txt)"
}
dhcp dhcp

S nslookup anything.example.com 10.42.0.1 > /tmp/dns.txt 2>&1
grep -q '^Address: 10.42.0.1$' /tmp/dns.txt || fail dns "$(tr '\n\t' '  ' < /tmp/dns.txt)"
ok dns "anything.example.com=10.42.0.1"

page=$(S wget -q -O - http://10.42.0.1/ 2>&1)
[ "$page" = kibitz-vm-page ] || fail http "got: $page"
ok http

retry 5 status_has "\"ip\": \"10.42.0." || fail lease-status "status lists no lease"
ok lease-status

S wpa_cli -p /run/wpa -i wlan1 disconnect >/dev/null
retry 15 stations_lack "\"mac\": \"$STA_MAC\"" || fail station-leaves "station still listed: $(tr -d '\n\t ' < /tmp/stations.json)"
ok station-leaves
kill "$(cat /run/wpa.pid)"
sleep 1

wget -q -O /tmp/metrics.txt http://127.0.0.1:8078/metrics
echo "KBVM metrics $(grep -E '^kb_hotspot_station_(joins|leaves)_total' /tmp/metrics.txt | tr '\n' ' ')"

# A crash (SIGKILL) must take the AP down: the kernel stops it when the
# START_AP socket (SOCKET_OWNER) closes.
kill -9 $HS_PID
sleep 1
iw dev wlan0 info > /tmp/apinfo.txt
grep -q "ssid $SSID" /tmp/apinfo.txt && fail ap-gone "wlan0 still has ssid after kill: $(tr '\n\t' '  ' < /tmp/apinfo.txt)"
scan_gone() { S iw dev wlan1 scan flush > /tmp/scan.txt 2>&1 && ! grep -q "SSID: $SSID" /tmp/scan.txt; }
retry 3 scan_gone || fail ap-gone "station still sees $SSID"
ok ap-gone

start_hotspot hotspot-restart
retry 8 scan_sees || fail rescan "SSID $SSID not in scan after restart"
join rejoin
dhcp redhcp
page=$(S wget -q -O - http://10.42.0.1/ 2>&1)
[ "$page" = kibitz-vm-page ] || fail rehttp "got: $page"
ok rehttp

kill $HS_PID
( sleep 15; kill -9 $HS_PID 2>/dev/null ) &
wait $HS_PID
rc=$?
[ $rc -eq 0 ] || fail hotspot-stop "exit status $rc after SIGTERM"
ok hotspot-stop
grep -E 'station (associated|left)|access point (started|stopped)' $HS_LOG | sed 's/^/KBVM log /'
finish
