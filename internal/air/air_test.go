package air

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*math.Max(1, math.Abs(b)) }

func TestSharesHandOnWhatIsUnused(t *testing.T) {
	got := Shares(3_000_000, []Demand{
		{Guest: "quiet", RateBps: 200_000},                // wants 250 k
		{Guest: "hog", RateBps: 2_900_000, Limited: true}, // held back: wants more
		{Guest: "mid", RateBps: 1_000_000, Limited: true}, // held back too
		{Guest: "idle", RateBps: 0},                       // sends nothing
	})
	// idle gets 0, quiet 250 k; the 2.75 M left is split by the two limited.
	want := map[string]float64{"idle": 0, "quiet": 250_000, "hog": 1_375_000, "mid": 1_375_000}
	for g, w := range want {
		if !near(got[g], w) {
			t.Errorf("%s: share %.0f, want %.0f (all %v)", g, got[g], w, got)
		}
	}
	sum := 0.0
	for _, v := range got {
		sum += v
	}
	if sum > 3_000_000+1 {
		t.Errorf("shares add up to %.0f, over the budget", sum)
	}
}

func TestSharesWithoutBudgetAreUnlimited(t *testing.T) {
	for g, v := range Shares(0, []Demand{{Guest: "a", RateBps: 9e6, Limited: true}}) {
		if v != 0 {
			t.Errorf("%s: share %v without a budget, want 0 (unlimited)", g, v)
		}
	}
}

// Budget nobody wants is headroom, not withheld: a lone video guest at
// 1 Mb/s of a 3 Mb/s budget may burst (a key frame) up to the budget.
func TestSharesGiveUnwantedBudgetAsHeadroom(t *testing.T) {
	got := Shares(3_000_000, []Demand{{"video", 1e6, false}, {"voice", 40_000, false}, {"idle", 0, false}})
	// want 1.25 M and 50 k; the 1.7 M left goes half to each sender.
	if !near(got["video"], 2_100_000) || !near(got["voice"], 900_000) || got["idle"] != 0 {
		t.Errorf("shares %v, want video 2.1 M, voice 0.9 M, idle 0", got)
	}
}

// Two equal senders that both want more split the budget evenly.
func TestSharesEqualSplit(t *testing.T) {
	got := Shares(4_000_000, []Demand{{"a", 3e6, true}, {"b", 3e6, true}})
	if !near(got["a"], 2e6) || !near(got["b"], 2e6) {
		t.Errorf("shares %v, want 2 M each", got)
	}
}

func TestVideoFits(t *testing.T) {
	for _, tc := range []struct {
		budget        float64
		people, video int
		want          bool
	}{
		{3_000_000, 4, 4, true},  // 12 video + 12 audio streams: 2.28 Mb/s
		{3_000_000, 5, 5, false}, // 20 + 20 streams: 3.8 Mb/s
		{3_000_000, 5, 3, true},  // two audio-only guests: 3·4·150k + 20·40k = 2.6 Mb/s
		{0, 30, 30, true},        // no budget, no limit
		{100_000, 1, 1, true},    // alone
	} {
		if got := VideoFits(tc.budget, tc.people, tc.video); got != tc.want {
			t.Errorf("VideoFits(%.0f, %d, %d) = %v, want %v", tc.budget, tc.people, tc.video, got, tc.want)
		}
	}
}

func TestDefaultBudgets(t *testing.T) {
	if DefaultBudgetKbps("2.4GHz", 20) <= 0 || DefaultBudgetKbps("5GHz", 80) <= DefaultBudgetKbps("5GHz", 20) {
		t.Error("budgets must be positive and grow with the channel width")
	}
	if DefaultBudgetKbps("60GHz", 2160) != 0 {
		t.Error("an unknown band must mean no limit")
	}
}

// A guest offering 10 Mb/s of video against a 4 Mb/s share gets about its
// share through (plus one burst and the queue), while its audio-sized
// packets all go at once.
func TestPacerHoldsAGuestToItsShare(t *testing.T) {
	var p Pacer
	p.SetRate(4_000_000)
	const second = int64(1e9)
	var sentBytes, audioDelayed, audioDropped int
	interval := int64(1200 * 8 * 1e9 / 10_000_000) // 1200 B at 10 Mb/s
	start := int64(5 * second)
	for now := start; now < start+2*second; now += interval {
		if d, ok := p.Offer(now, 1200); ok {
			sentBytes += 1200
			if d < 0 || d > MaxDelayNs {
				t.Fatalf("delay %d ns outside [0, MaxDelay]", d)
			}
		}
		if (now/interval)%20 == 0 { // an audio packet now and then
			d, ok := p.Offer(now, 160)
			if !ok {
				audioDropped++
			} else if d != 0 {
				audioDelayed++
			}
		}
	}
	gotBps := float64(sentBytes) * 8 / 2
	if gotBps < 3_900_000 || gotBps > 4_400_000 {
		t.Errorf("delivered %.2f Mb/s of video against a 4 Mb/s share", gotBps/1e6)
	}
	if audioDropped != 0 || audioDelayed != 0 {
		t.Errorf("audio-sized packets: %d dropped, %d delayed; want none", audioDropped, audioDelayed)
	}
	if p.Dropped == 0 || p.Deferred == 0 {
		t.Errorf("a guest at 2.5× its share was neither queued (%d) nor dropped (%d)", p.Deferred, p.Dropped)
	}
}

func TestPacerUnlimited(t *testing.T) {
	var p Pacer
	for i := range 1000 {
		if d, ok := p.Offer(int64(i), 1500); !ok || d != 0 {
			t.Fatal("an unlimited pacer held a packet back")
		}
	}
}

func TestMeter(t *testing.T) {
	var m Meter
	const ms = int64(1e6)
	base := int64(1000) * 1000 * ms
	for i := range int64(100) { // 1 s of 1250 B every 10 ms = 1 Mb/s
		m.Add(base+i*10*ms, 1250)
	}
	if got := m.Bps(base + 999*ms); math.Abs(got-1_000_000) > 100_000 {
		t.Errorf("rate %.0f b/s, want about 1 Mb/s", got)
	}
	if got := m.Bps(base + 5000*ms); got != 0 {
		t.Errorf("rate %.0f b/s after 4 s of silence, want 0", got)
	}
}
