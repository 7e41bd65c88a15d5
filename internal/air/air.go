// Package air decides how the box's radio time is shared between guests:
// the media budget of a band and channel width, each guest's fair share of
// it (max-min fairness: what a guest leaves unused is handed on to the
// others), and whether a room still has room for another video guest.
// The TURN relay enforces the shares (pacing, then dropping); see
// docs/air.md for the reasoning behind the numbers.
package air

import (
	"cmp"
	"slices"
)

// DefaultBudgetKbps is the relayed media rate a band and channel width can
// carry for phones, in kb/s. Every relayed stream crosses the air twice
// (guest → box → guest), so the budget is about half of the UDP goodput a
// single-stream 802.11n/ac phone gets at a few metres, with room left for
// retries when the room is busy. 0 means unknown (no limit).
func DefaultBudgetKbps(band string, widthMHz int) int {
	switch band {
	case "2.4GHz":
		if widthMHz >= 40 {
			return 16000
		}
		return 10000
	case "5GHz":
		switch {
		case widthMHz >= 80:
			return 40000
		case widthMHz >= 40:
			return 25000
		default:
			return 14000
		}
	}
	return 0
}

// Demand is one guest's recent relayed rate and whether the relay held it
// back (a paced guest may want more than it gets).
type Demand struct {
	Guest   string
	RateBps float64
	Limited bool
}

// Shares splits budgetBps among the guests by max-min fairness: a guest
// that wants less than an equal split gets what it wants, and what it
// leaves is shared among the rest; what nobody wants is split among the
// guests that send. A guest the relay held back is taken
// to want more than any split. Guests sending nothing get no share; a
// guest that starts sending is measured within a second and gets one then.
// budgetBps <= 0 means no limit: every guest gets 0 ("unlimited").
func Shares(budgetBps float64, demands []Demand) map[string]float64 {
	out := make(map[string]float64, len(demands))
	if budgetBps <= 0 {
		for _, d := range demands {
			out[d.Guest] = 0
		}
		return out
	}
	type want struct {
		guest string
		bps   float64
	}
	wants := make([]want, 0, len(demands))
	for _, d := range demands {
		w := d.RateBps * growth
		if d.Limited {
			w = budgetBps
		}
		wants = append(wants, want{d.Guest, w})
	}
	slices.SortFunc(wants, func(a, b want) int { return cmp.Compare(a.bps, b.bps) })
	left := budgetBps
	sending := 0
	for i, w := range wants {
		equal := left / float64(len(wants)-i)
		give := min(w.bps, equal)
		out[w.guest] = give
		left -= give
		if w.bps > 0 {
			sending++
		}
	}
	// Budget nobody wants yet is headroom for the guests that send: a
	// share held at 1.25 × the last second's rate would drop a key frame
	// (many times an average frame) while the air has room for it.
	if left > 0 && sending > 0 {
		for _, w := range wants {
			if w.bps > 0 {
				out[w.guest] += left / float64(sending)
			}
		}
	}
	return out
}

// growth lets a guest below its share grow by a quarter each round
// before it counts as wanting more than it sends.
const growth = 1.25

// Admission floors: the least a video stream needs to stay watchable
// (a small picture at a low frame rate) and what an Opus voice stream
// uses with its packet overhead.
const (
	VideoFloorBps = 150_000
	AudioBps      = 40_000
)

// VideoFits reports whether a mesh call fits budgetBps with every video
// stream at its floor: people guests each send audio to every other, and
// videoSenders of them also send video to every other. Count a newcomer
// in both to ask whether it may join with video.
func VideoFits(budgetBps float64, people, videoSenders int) bool {
	if budgetBps <= 0 || people < 2 {
		return true
	}
	others := float64(people - 1)
	need := float64(videoSenders)*others*VideoFloorBps + float64(people)*others*AudioBps
	return need <= budgetBps
}
