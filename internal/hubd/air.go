package hubd

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/air"
	"github.com/kibitzbox/kibitzbox/internal/hub"
	"github.com/kibitzbox/kibitzbox/internal/operator"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/turnrelay"
)

// airBudget is the relay's air budget: the hotspot's (it knows the band
// and the channel width) when it reports one, else the hub's flag.
type airBudget struct {
	flag    int
	current atomic.Int64
}

func (b *airBudget) kbps() int { return int(b.current.Load()) }

// airPoll is how often the hub asks the hotspot for its budget.
const airPoll = 3 * time.Second

// follow keeps the relay's budget and the apps' knowledge of it in step
// with the hotspot's until ctx ends.
func (b *airBudget) follow(ctx context.Context, hs *operator.HotspotClient, relay *turnrelay.Server, h *hub.Hub, log *slog.Logger) error {
	t := time.NewTicker(airPoll)
	defer t.Stop()
	for {
		want := b.flag
		if st, err := hs.Status(ctx); err == nil && st.AirBudgetKbps > 0 {
			want = st.AirBudgetKbps
		}
		if old := b.kbps(); want != old {
			b.current.Store(int64(want))
			relay.SetAirBudget(want)
			h.AirBudget(want)
			log.Info("air budget changed", "kbps", want, "was", old)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// maxAirGuests bounds the guests listed in /status.
const maxAirGuests = 32

// airDoc maps the relay's air stats to the status document; videoFull
// says whether a newcomer to the default room would get video.
func airDoc(st turnrelay.AirStats, defaultRoom []hub.MemberInfo) *status.Air {
	d := &status.Air{BudgetKbps: int(st.BudgetBps / 1000), TotalKbps: st.TotalBps / 1000, Guests: []status.AirGuest{}}
	for i, g := range st.Guests {
		if i == maxAirGuests {
			break
		}
		d.Guests = append(d.Guests, status.AirGuest{IP: g.Addr.String(), Kbps: g.Bps / 1000, ShareKbps: g.ShareBps / 1000, Dropped: g.Dropped})
	}
	cams := 0
	for _, m := range defaultRoom {
		if m.Cam {
			cams++
		}
	}
	d.VideoFull = !air.VideoFits(st.BudgetBps, len(defaultRoom)+1, cams+1)
	return d
}
