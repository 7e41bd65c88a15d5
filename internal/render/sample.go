package render

import "github.com/kibitzbox/kibitzbox/internal/status"

// Sample is a typical running box: a WPA2 network with three guests and
// three people in the default room. cmd/display --sample shows it.
func Sample() Input {
	return Input{
		Hub: &status.Hub{
			AppURL:      "https://10.42.0.1/#lobby",
			DefaultRoom: "lobby",
			Sessions:    3,
			InCall:      3,
			Rooms:       []status.Room{{Name: "lobby", Members: 3}},
		},
		Hotspot: &status.Hotspot{
			State:       status.StateRunning,
			Address:     "10.42.0.1",
			SSID:        "Kibitz-7F3A",
			Security:    "wpa2",
			Passphrase:  "plum-otter-42",
			WiFiQR:      "WIFI:T:WPA;S:Kibitz-7F3A;P:plum-otter-42;;",
			MaxStations: 32,
			Stations: []status.Station{
				{MAC: "02:00:00:00:00:01", Authorized: true},
				{MAC: "02:00:00:00:00:02", Authorized: true},
				{MAC: "02:00:00:00:00:03", Authorized: true},
			},
		},
	}
}
