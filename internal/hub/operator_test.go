package hub

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/hubclient"
)

// refusal waits for c's next refused frame.
func refusal(t *testing.T, c *hubclient.Client) (room, why string) {
	t.Helper()
	for {
		f := recvFrame(t, c)
		if f.T != "refused" {
			continue
		}
		var r struct{ Room, Why string }
		if err := json.Unmarshal(f.Raw, &r); err != nil {
			t.Fatalf("refused frame %s: %v", f.Raw, err)
		}
		return r.Room, r.Why
	}
}

func TestLockedRoomRefusesNewcomers(t *testing.T) {
	th := startHub(t, nil)
	a, b := joinedPair(t, th.blob)
	th.LockRoom("r", true)
	c := dial(t, th.blob)
	c.Join("r")
	if room, why := refusal(t, c); room != "r" || why != "locked" {
		t.Fatalf("join into a locked room: refused %q %q", room, why)
	}
	if got := peersOf(t, c); !slices.Equal(got, []int64{c.ID()}) {
		t.Errorf("the refused guest is in room %v, want only itself (room \"\")", got)
	}
	// Members stay, and still reach each other.
	waitPeers(t, a, sorted(a.ID(), b.ID()))
	rooms := th.Rooms()
	if len(rooms) == 0 || rooms[0].Name != "r" || !rooms[0].Locked || len(rooms[0].Members) != 2 {
		t.Errorf("Rooms() = %+v, want r locked with 2 members first", rooms)
	}
	th.LockRoom("r", false)
	c.Join("r")
	waitPeers(t, a, sorted(a.ID(), b.ID(), c.ID()))
}

func TestEndRoomMovesEveryoneOutAndLocksIt(t *testing.T) {
	th := startHub(t, nil)
	a, b := joinedPair(t, th.blob)
	if n := th.EndRoom("r"); n != 2 {
		t.Fatalf("EndRoom moved %d, want 2", n)
	}
	for _, c := range []*hubclient.Client{a, b} {
		if room, why := refusal(t, c); room != "r" || why != "ended" {
			t.Errorf("member got refused %q %q, want r ended", room, why)
		}
	}
	waitPeers(t, a, sorted(a.ID(), b.ID())) // both in room "" now
	a.Join("r")
	if _, why := refusal(t, a); why != "locked" {
		t.Errorf("rejoining an ended room: %q, want locked", why)
	}
}

func TestKickEndsTheSessionAndBansTheAddress(t *testing.T) {
	th := startHub(t, nil)
	a, b := joinedPair(t, th.blob)
	addr, ok := th.Kick(b.ID(), time.Minute)
	if !ok || addr.String() != "127.0.0.1" {
		t.Fatalf("Kick = %v, %v", addr, ok)
	}
	if _, why := refusal(t, b); why != "kicked" {
		t.Errorf("kicked guest got %q", why)
	}
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the kicked session is still open after 5 s")
	}
	waitPeers(t, a, []int64{a.ID()})
	// The address is refused: a new session from it never comes up.
	ctx := ctxT(t, 2*time.Second)
	if c, err := hubclient.Dial(ctx, th.blob, hubclient.LoopbackOnly()); err == nil {
		c.Close()
		t.Error("a banned address got a new session")
	}
	if _, ok := th.Kick(999999, time.Minute); ok {
		t.Error("Kick of an unknown id succeeded")
	}
}

func TestNoticeAndNamesFromPresence(t *testing.T) {
	th := startHub(t, nil)
	a, b := joinedPair(t, th.blob)
	a.Send(b.ID(), map[string]any{"k": "present", "name": "  Ada\x07 Lovelace  ", "cam": true})
	recvFrame(t, b)
	rooms := th.Rooms()
	var name string
	for _, m := range rooms[0].Members {
		if m.ID == a.ID() {
			name = m.Name
		}
	}
	if name != "Ada Lovelace" {
		t.Errorf("name from presence %q, want %q", name, "Ada Lovelace")
	}
	th.Notice("The Wi-Fi changes in a moment")
	for _, c := range []*hubclient.Client{a, b} {
		for {
			f := recvFrame(t, c)
			if f.T == "notice" {
				var n struct{ Text string }
				json.Unmarshal(f.Raw, &n)
				if n.Text != "The Wi-Fi changes in a moment" {
					t.Errorf("notice text %q", n.Text)
				}
				break
			}
		}
	}
}
