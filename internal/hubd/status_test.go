package hubd

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/hub"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/turnrelay"
	"github.com/kibitzbox/kibitzbox/internal/web"
)

// hubDoc maps each part's own stats to its place in the status document.
func TestHubDocMapsEveryPart(t *testing.T) {
	hs := hub.Stats{
		Sessions: 7,
		Rooms:    []hub.RoomStats{{Name: "", Members: 2}, {Name: "lobby", Members: 3}, {Name: "stage", Members: 2}},
		// The hub lists only its biggest rooms and counts the rest.
		OtherRooms: 4,
		InCall:     9,
		Drops:      map[string]uint64{"rate_limited": 4},
		Uptime:     90 * time.Second,
	}
	ts := &turnrelay.Stats{Allocations: 5, RelayedBytes: 1e6, BytesPerSecond: 2500, Refused: 9}
	ws := &web.Stats{CaptiveClients: 3, AppLoads: 11, Joins: 6, ProbeSuccesses: 20, Splashes: 4, Redirects: 2}
	got := hubDoc(hs, ts, ws)
	want := status.Hub{
		UptimeSeconds: 90,
		Sessions:      7,
		Rooms:         []status.Room{{Name: "", Members: 2}, {Name: "lobby", Members: 3}, {Name: "stage", Members: 2}},
		OtherRooms:    4,
		InCall:        9, // the hub's count, over every named room
		TURN:          status.TURN{Allocations: 5, RelayedBytes: 1e6, BytesPerSecond: 2500, RefusedRequests: 9},
		Web:           &status.Web{CaptiveClients: 3, AppLoads: 11, Joins: 6, ProbeSuccesses: 20, Splashes: 4, Redirects: 2},
		Drops:         map[string]uint64{"rate_limited": 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hubDoc:\n got %+v\nwant %+v", got, want)
	}

	// Without TURN and web: zero TURN figures, no web section, and an
	// empty (not null) room list for the display.
	bare := hubDoc(hub.Stats{}, nil, nil)
	b, err := json.Marshal(bare)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["rooms"]) != "[]" || m["web"] != nil || bare.TURN != (status.TURN{}) {
		t.Errorf("bare document %s", b)
	}
}
